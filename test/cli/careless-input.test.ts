/**
 * Issue 18, Low items: each a careless or hostile input that used to crash, lie or pass raw
 * bytes to a terminal, a spreadsheet or a Markdown renderer.
 */
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { stringifyModel } from '../../src/estimators/model-json.js';
import { captureIo } from '../cli/io.js';
import { arc, outcome, tempDb } from '../store/fixtures.js';
import { LAB_MODEL } from '../tuning/fixtures.js';

let tmp: ReturnType<typeof tempDb>;
beforeEach(() => {
  tmp = tempDb('vfio-sla-low-');
});
afterEach(() => tmp.cleanup());

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo(tmp.dir);
  const code = await runCli(argv, io);
  return { code, out: io.out(), err: io.err() };
}

async function importRecords(records: readonly unknown[]): Promise<void> {
  const file = join(tmp.dir, 'r.jsonl');
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  expect((await cli('import', file, '--db', tmp.db)).code).toBe(0);
}

const TUNE = ['tune', '--ram', '8GiB', '--dirty-rate', '127MiB/s', '--bandwidth', '128MiB/s', '--deadline', '300ms', '--first-pass', '3.3GB', '--wws', '1.1GB'];

describe('tune', () => {
  it('--vcpus 200000 does not overflow the stack', async () => {
    writeFileSync(join(tmp.dir, 'lab.json'), stringifyModel(LAB_MODEL));
    const r = await cli(...TUNE, '--budget', '120s', '--model', 'lab.json', '--vcpus', '200000', '--json');
    expect(r.err).not.toMatch(/call stack/i);
    expect([0, 3]).toContain(r.code);
  });

  it.each(['--budget', '--deadline'])('%s 1e308s is refused as out of range (exit 2), not printed as Infinity', async (flag) => {
    const args = [...TUNE, '--budget', '120s'];
    args[args.indexOf(flag) + 1] = '1e308s';
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${flag}: '1e308s' is out of range`);
  });
});

describe('fit and the error line', () => {
  it("fit --exclude '' is a usage error, not a model fitted from nothing with exit 0", async () => {
    await importRecords([arc()]);
    const r = await cli('fit', '--db', tmp.db, '--out', 'm.json', '--exclude', '');
    expect(r.code).toBe(2);
    expect(r.err).toContain("--exclude '' would leave out every migration");
  });

  it('says a Node error code once ("EISDIR: EISDIR:" before)', async () => {
    await importRecords([arc()]);
    mkdirSync(join(tmp.dir, 'priors-dir'));
    const r = await cli('fit', '--db', tmp.db, '--out', 'm.json', '--priors', 'priors-dir');
    expect(r.code).toBe(1);
    expect(r.err).toContain('EISDIR');
    expect(r.err).not.toContain('EISDIR: EISDIR');
  });
});

describe('--db that is not a database file', () => {
  it('a directory is named as one, not "disk I/O error"', async () => {
    mkdirSync(join(tmp.dir, 'dir.db'));
    const r = await cli('stats', '--db', 'dir.db');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${join(tmp.dir, 'dir.db')}: is a directory, not a database file`);
  });

  it('a link to /dev/null is refused and leaves no journal beside it', async () => {
    symlinkSync('/dev/null', join(tmp.dir, 'null.db'));
    const r = await cli('import', join(tmp.dir, 'nothing.jsonl'), '--db', 'null.db');
    writeFileSync(join(tmp.dir, 'nothing.jsonl'), '\n');
    const again = await cli('import', join(tmp.dir, 'nothing.jsonl'), '--db', 'null.db');
    expect([r.code, again.code]).toEqual([2, 1]);
    expect(again.err).toContain('is a character device, not a database file');
    expect(readdirSync(tmp.dir).filter((f) => f.startsWith('null.db'))).toEqual(['null.db']);
  });
});

describe('--db :memory:', () => {
  it('import checks and counts into an in-memory database, says nothing was kept, and creates no file', async () => {
    writeFileSync(join(tmp.dir, 'r.jsonl'), `${JSON.stringify(arc())}\n${JSON.stringify(arc({ latencyMs: -1 }))}\n`);
    const r = await cli('import', 'r.jsonl', '--db', ':memory:');
    expect(r.code).toBe(1); // one line rejected
    expect(r.out).toContain('into :memory:: 1 records accepted (1 new, 0 already stored), 1 rejected');
    expect(r.out).toContain(':memory: is an in-memory database: the records were checked and counted, and nothing was kept');
    expect(readdirSync(tmp.dir).filter((f) => f.includes('memory'))).toEqual([]);
  });

  it.each([
    ['stats', ['stats'], 'would be empty: there is nothing in it to read'],
    ['report', ['report', '--out', 'r.html'], 'would be empty'],
    ['export', ['export', '--out', 'x'], 'would be empty'],
    ['fit', ['fit', '--out', 'm.json'], 'would be empty'],
    ['tune', ['tune', '--migration', 'm1'], 'would be empty'],
    ['serve', ['serve', '--socket', 's.sock'], 'would lose every record when the service stops'],
    ['demo', ['demo'], 'would be gone when the demo ends'],
    ['watch', ['watch', '--qmp', 'q.sock', '--deadline', '300ms'], "would lose the migration's records when watch ends"],
    ['probe', ['probe', '--device', 'd1', '--destination', 'd2', '--model', 'mtty'], "would lose every cycle's records when probe ends"],
  ])('%s refuses it with the reason (exit 2) and creates no file', async (_name, argv, why) => {
    const r = await cli(...argv, '--db', ':memory:');
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--db ':memory:' is SQLite's in-memory database, which ${why}`);
    expect(readdirSync(tmp.dir).filter((f) => f.includes('memory'))).toEqual([]);
  });

  it('./:memory: is still a file of that name', async () => {
    await importRecords([arc()]);
    writeFileSync(join(tmp.dir, 'r.jsonl'), `${JSON.stringify(arc())}\n`);
    expect((await cli('import', 'r.jsonl', '--db', './:memory:')).code).toBe(0);
    expect(existsSync(join(tmp.dir, ':memory:'))).toBe(true);
  });
});

describe('escape sequences in file names and arguments', () => {
  const OSC = '\u001b]0;pwned\u0007\u001b[2J';

  it('a file name in import\'s error lines is shown escaped, not sent to the terminal', async () => {
    const file = join(tmp.dir, `f${OSC}.jsonl`);
    writeFileSync(file, 'garbage\n');
    const r = await cli('import', file, '--db', tmp.db);
    expect(r.code).toBe(1);
    expect(r.out).toContain('f\\u001b]0;pwned\\u0007\\u001b[2J.jsonl:1: bad JSON');
    expect(r.out).not.toContain('\u001b');
  });

  it('an output path echoed on success is shown escaped (fit, report, export)', async () => {
    await importRecords([arc({ startedAtMs: Date.UTC(2026, 0, 1) }), outcome({})]);
    const runs = [
      await cli('fit', '--db', tmp.db, '--out', `m${OSC}.json`),
      await cli('report', '--db', tmp.db, '--out', `r${OSC}.html`),
      await cli('export', '--db', tmp.db, '--out', `e${OSC}`, '--host', `h${OSC}`),
    ];
    for (const r of runs) {
      expect(r.code).toBe(0);
      expect(r.out).toContain('\\u001b]0;pwned\\u0007\\u001b[2J');
      expect(r.out + r.err).not.toContain('\u001b');
    }
  });

  it('an argument quoted back in an error is shown escaped', async () => {
    const r = await cli('stats', '--db', `n${OSC}.db`);
    expect(r.code).toBe(2);
    expect(r.err).toContain("no database at 'n\\u001b]0;pwned\\u0007\\u001b[2J.db'");
    expect(r.err).not.toContain('\u001b');
    const unknown = await cli(`x${OSC}`);
    expect(unknown.err).toContain("unknown command 'x\\u001b]0;pwned");
    expect(unknown.err).not.toContain('\u001b');
  });
});

describe('names from the store reach people as text', () => {
  beforeEach(async () => {
    await importRecords([outcome({ migrationId: '=HYPERLINK("http://x")' }), outcome({ migrationId: '<script>alert(1)</script>' })]);
    // As a database written before validation refused control characters would hold it.
    const db = new Database(tmp.db);
    const ref = db.prepare("INSERT INTO migrations (migration_id) VALUES ('vm\u001b]0;owned\u0007\u001b[2J')").run().lastInsertRowid;
    db.prepare("INSERT INTO outcomes VALUES (?, 'governor', 1, 300, 150, 400, 0)").run(ref);
    db.close();
  });

  it('CSV cells starting with = + - @ are neutralised for spreadsheets', async () => {
    const r = await cli('stats', '--db', tmp.db, '--only', 'migrations', '--format', 'csv');
    expect(r.out).toContain(`"'=HYPERLINK(""http://x"")"`);
    expect(r.out).not.toMatch(/(^|,)"?=HYPERLINK/m);
  });

  it('--format md escapes HTML', async () => {
    const r = await cli('stats', '--db', tmp.db, '--only', 'migrations', '--format', 'md');
    expect(r.out).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(r.out).not.toContain('<script>');
  });

  it('escape and OSC sequences are shown escaped, never sent to the terminal', async () => {
    const r = await cli('stats', '--db', tmp.db, '--only', 'migrations');
    expect(r.out).not.toContain('\u001b');
    expect(r.out).toContain('vm\\u001b]0;owned\\u0007\\u001b[2J');
  });
});

describe('export', () => {
  it('hosts a/b and a_b write files of their own', async () => {
    await importRecords([arc({ startedAtMs: Date.UTC(2026, 0, 1) })]);
    expect((await cli('export', '--db', tmp.db, '--out', 'ex', '--host', 'a/b')).code).toBe(0);
    expect((await cli('export', '--db', tmp.db, '--out', 'ex', '--host', 'a_b')).code).toBe(0);
    expect(readdirSync(join(tmp.dir, 'ex', 'arcs', 'day=2026-01-01')).sort()).toEqual(['a_2fb_0.parquet', 'a_5fb_0.parquet']);
    expect(existsSync(join(tmp.dir, 'ex'))).toBe(true);
  });
});

describe('someone else\'s SQLite file as --db', () => {
  it('is refused by name, and neither our tables nor WAL mode are added to it', async () => {
    const foreign = join(tmp.dir, 'crm.db');
    const db = new Database(foreign);
    db.exec("CREATE TABLE customers (name TEXT); INSERT INTO customers VALUES ('ada')");
    db.close();
    writeFileSync(join(tmp.dir, 'r.jsonl'), `${JSON.stringify(arc())}\n`);
    const r = await cli('import', join(tmp.dir, 'r.jsonl'), '--db', foreign);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${foreign}: is not a vfio-sla database (it has customers)`);
    const after = new Database(foreign, { readonly: true });
    expect(after.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()).toEqual(['customers']);
    expect(after.pragma('journal_mode', { simple: true })).toBe('delete');
    after.close();
  });
});
