/**
 * Issue 18, item 1: every command that writes a file refuses an existing target that is not a
 * regular file (exit 2, saying what is there) and leaves it as it was — before, `report --out`
 * and `fit --out` renamed a temp file over a FIFO, a link, a socket or (as root) `/dev/full`.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { openStore } from '../../src/store/store.js';
import { SpillFile } from '../../src/telemetry/spill.js';
import { OutputTargetError } from '../../src/files/output-target.js';
import { captureIo } from '../cli/io.js';
import { arc, tempDb } from '../store/fixtures.js';

let tmp: ReturnType<typeof tempDb>;
let server: Server;
/** Hostile targets by kind, each made fresh in the temp dir. */
const targets: Record<string, () => string> = {};

beforeAll(async () => {
  tmp = tempDb('vfio-sla-targets-');
  openStore(tmp.db).close();
  writeFileSync(join(tmp.dir, 'precious.txt'), 'not yours\n');
  targets['a FIFO'] = () => {
    const p = join(tmp.dir, `fifo-${Object.keys(targets).length}-${Math.random().toString(36).slice(2)}`);
    execFileSync('mkfifo', [p]);
    return p;
  };
  targets['a symbolic link'] = () => {
    const p = join(tmp.dir, `link-${Math.random().toString(36).slice(2)}`);
    symlinkSync(join(tmp.dir, 'precious.txt'), p);
    return p;
  };
  targets['a directory'] = () => {
    const p = join(tmp.dir, `dir-${Math.random().toString(36).slice(2)}`);
    mkdirSync(p);
    return p;
  };
  const sock = join(tmp.dir, 'live.sock');
  server = createServer(() => undefined);
  await new Promise<void>((res) => server.listen(sock, res));
  targets['a socket'] = () => sock;
});
afterAll(async () => {
  await new Promise<void>((res) => server.close(() => res()));
  tmp.cleanup();
});

/** The argv of each file-writing command with `out` as its target. */
const COMMANDS: Record<string, (out: string) => string[]> = {
  'report --out': (out) => ['report', '--db', 'test.db', '--out', out],
  'fit --out': (out) => ['fit', '--db', 'test.db', '--no-priors', '--out', out],
  'watch --qmp-log': (out) => ['watch', '--qmp', 'none.sock', '--db', 'test.db', '--model', join(import.meta.dirname, '../../models/priors.json'), '--qmp-log', out],
};

describe('output targets that are not regular files', () => {
  for (const [command, argv] of Object.entries(COMMANDS)) {
    for (const kind of ['a FIFO', 'a symbolic link', 'a directory', 'a socket']) {
      it(`${command} refuses ${kind} with exit 2 and leaves it as it was`, async () => {
        const target = targets[kind]!();
        const before = lstatSync(target);
        const io = captureIo(tmp.dir);
        expect(await runCli(argv(target), io)).toBe(2);
        expect(io.err()).toContain(`'${target}' is ${kind}, not a regular file`);
        const after = lstatSync(target);
        expect([after.ino, after.mode]).toEqual([before.ino, before.mode]);
        expect(readFileSync(join(tmp.dir, 'precious.txt'), 'utf8')).toBe('not yours\n');
      });
    }
  }

  it('report --out still replaces a regular file it wrote before', async () => {
    const out = join(tmp.dir, 'again.html');
    writeFileSync(out, 'old');
    expect(await runCli(['report', '--db', 'test.db', '--out', out], captureIo(tmp.dir))).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^<!doctype html>/);
  });

  it('export --out refuses a FIFO where its directory should be, exit 2', async () => {
    const target = targets['a FIFO']!();
    const io = captureIo(tmp.dir);
    expect(await runCli(['export', '--db', 'test.db', '--out', target], io)).toBe(2);
    expect(io.err()).toContain(`'${target}' is a FIFO, not a directory`);
    expect(lstatSync(target).isFIFO()).toBe(true);
  });

  it('a spill file never appends through a link planted at its name', () => {
    const path = join(tmp.dir, 'test.db.spill-999999.jsonl');
    symlinkSync(join(tmp.dir, 'precious.txt'), path);
    const spill = new SpillFile(path);
    expect(() => spill.append('{"lastSeq":1,"items":[]}')).toThrow(OutputTargetError);
    expect(readFileSync(join(tmp.dir, 'precious.txt'), 'utf8')).toBe('not yours\n');
  });

  it("an orphan spill name planted as a link or a FIFO is neither replayed nor removed (import neither leaks the link's target nor hangs)", async () => {
    const dir = join(tmp.dir, 'orphans');
    mkdirSync(dir);
    const db = join(dir, 't.db');
    openStore(db).close();
    writeFileSync(join(tmp.dir, 'secret.txt'), 'root:$6$secret-hash:19000:0:99999:7:::\n');
    symlinkSync(join(tmp.dir, 'secret.txt'), `${db}.spill-999999.jsonl`);
    execFileSync('mkfifo', [`${db}.spill-999998.jsonl`]);
    writeFileSync(join(dir, 'r.jsonl'), `${JSON.stringify(arc())}\n`);
    const io = captureIo(dir);
    expect(await runCli(['import', 'r.jsonl', '--db', db], io)).toBe(0);
    const store = openStore(db, { readonly: true });
    try {
      expect(store.db.prepare("SELECT COUNT(*) FROM rejects WHERE text LIKE '%secret%'").pluck().get()).toBe(0);
    } finally {
      store.close();
    }
    expect([lstatSync(`${db}.spill-999999.jsonl`).isSymbolicLink(), lstatSync(`${db}.spill-999998.jsonl`).isFIFO()]).toEqual([true, true]);
  }, 20_000);
});
