import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { recordCount } from '../../src/store/inventory.js';
import { transfers } from '../../src/store/queries.js';
import { Store } from '../../src/store/store.js';
import { arc, lockFromAnotherProcess, ram, tempDb, transfer, withStore } from '../store/fixtures.js';
import { captureIo } from './io.js';

let tmp: ReturnType<typeof tempDb>;
beforeEach(() => {
  tmp = tempDb();
  writeFileSync(join(tmp.dir, 'good.jsonl'), `${JSON.stringify(arc())}\n${JSON.stringify(ram())}\n`);
  writeFileSync(join(tmp.dir, 'bad.jsonl'), `${JSON.stringify(ram({ atMs: 5 }))}\n{oops\n${JSON.stringify(arc({ latencyMs: -1 }))}\n`);
});
afterEach(() => tmp.cleanup());

function countIn(db: string): number {
  return withStore(db, recordCount);
}

describe('vfio-sla import', () => {
  it('imports into data/vfio-sla.db under the working directory by default and exits 0', async () => {
    const io = captureIo(tmp.dir);
    expect(await runCli(['import', 'good.jsonl'], io)).toBe(0);
    expect(io.out()).toBe(`imported 1 file into ${join(tmp.dir, 'data/vfio-sla.db')}: 2 records accepted (2 new, 0 already stored), 0 rejected\n`);
    expect(io.err()).toBe('');
    expect(countIn(join(tmp.dir, 'data/vfio-sla.db'))).toBe(2);
  });

  it('exits 1 and lists the first errors with file:line when anything was rejected', async () => {
    const io = captureIo(tmp.dir);
    expect(await runCli(['import', 'good.jsonl', 'bad.jsonl', '--db', 'x.db'], io)).toBe(1);
    const bad = join(tmp.dir, 'bad.jsonl');
    expect(io.out()).toContain('3 records accepted (3 new, 0 already stored), 2 rejected\nerrors:\n');
    expect(io.out()).toContain(`  ${bad}:2: bad JSON: `);
    expect(io.out()).toContain(`  ${bad}:3: arc.latencyMs: expected a non-negative number of ms up to 366 days, got -1\n`);
    expect(countIn(join(tmp.dir, 'x.db'))).toBe(3);
  });

  it('prints the summary as JSON with --json', async () => {
    const io = captureIo(tmp.dir);
    await runCli(['import', 'bad.jsonl', '--db', 'x.db', '--json', '--max-errors', '1'], io);
    const summary = JSON.parse(io.out()) as Record<string, unknown>;
    expect(summary).toMatchObject({ db: join(tmp.dir, 'x.db'), accepted: 1, rejected: 2, inserted: 1, complete: true });
    expect(summary['errors']).toEqual([{ file: join(tmp.dir, 'bad.jsonl'), line: 2, reason: expect.stringMatching(/^bad JSON/) }]);
  });

  it('draws a progress bar on a terminal only, and not when CI=true', async () => {
    const tty = captureIo(tmp.dir, { tty: true });
    await runCli(['import', 'good.jsonl', '--db', 'a.db'], tty);
    expect(tty.err()).toContain('import [########################] 100%');
    const ci = captureIo(tmp.dir, { tty: true, env: { CI: 'true' } });
    await runCli(['import', 'good.jsonl', '--db', 'b.db'], ci);
    expect(ci.err()).toBe('');
  });

  it('gives up after --retry-for while another process holds the database, keeping the records in a spill file', async () => {
    const db = join(tmp.dir, 'locked.db');
    Store.open(db).close();
    const holder = await lockFromAnotherProcess(db);
    const io = captureIo(tmp.dir);
    expect(await runCli(['import', 'good.jsonl', '--db', db, '--retry-for', '0.2'], io)).toBe(1);
    holder.release();
    expect(io.err()).toMatch(/^vfio-sla import: SQLITE_BUSY: database is locked \(attempt 1; 2 records queued in memory, 0 spilled; retrying\)\n/);
    expect(io.err()).toContain('2 records not committed; kept in ');
    expect(io.out()).toContain('import stopped before the end');
    expect(readdirSync(tmp.dir).some((f) => f.startsWith('locked.db.spill-'))).toBe(true);
    const again = captureIo(tmp.dir);
    expect(await runCli(['import', 'good.jsonl', '--db', db], again)).toBe(0);
    expect(countIn(db)).toBe(2);
  });

  it.each([
    [['import'], 'no files given'],
    [['import', 'good.jsonl', '--bogus'], "Unknown option '--bogus'"],
    [['import', 'good.jsonl', '--max-errors', 'many'], "--max-errors must be a non-negative integer, got 'many'"],
    [['import', 'missing.jsonl'], "not a readable file: 'missing.jsonl'"],
    [['import', 'good.jsonl', '--link', ''], "--link must be 1-128 characters, got ''"],
    [['import', 'good.jsonl', '--link', 'n'.repeat(129)], `--link must be 1-128 characters, got '${'n'.repeat(40)}…'`],
  ])('rejects %j with exit 2 naming the problem', async (argv, message) => {
    const io = captureIo(tmp.dir);
    expect(await runCli(argv, io)).toBe(2);
    expect(io.err()).toContain(message);
    expect(existsSync(join(tmp.dir, 'data'))).toBe(false);
  });

  it('tags the imported migrations’ transfers that name no link with --link, again on a re-import, never overwriting one', async () => {
    const lines = [transfer({ phase: 'stopcopy' }), transfer({ deviceId: 'nic0', phase: 'stopcopy', link: '10G' })];
    writeFileSync(join(tmp.dir, 'xfer.jsonl'), `${lines.map((r) => JSON.stringify(r)).join('\n')}\n`);
    writeFileSync(join(tmp.dir, 'other.jsonl'), `${JSON.stringify(transfer({ migrationId: 'm2' }))}\n`);
    const io = captureIo(tmp.dir);
    expect(await runCli(['import', 'other.jsonl', '--db', 'x.db'], io)).toBe(0);
    expect(await runCli(['import', 'xfer.jsonl', '--db', 'x.db', '--link', '25G'], io)).toBe(0);
    expect(io.out()).toContain('tagged 1 transfers with link 25G\n');
    const links = (): string[] => {
      const store = Store.open(join(tmp.dir, 'x.db'), { readonly: true });
      const out = transfers(store).map((t) => `${t.migrationId}/${t.deviceId}:${t.link ?? '-'}`);
      store.close();
      return out;
    };
    expect(links()).toEqual(['m1/nic0:10G', 'm1/ram:25G', 'm2/ram:-']);
    // A file imported before without --link is tagged by importing it again with it.
    const json = captureIo(tmp.dir);
    expect(await runCli(['import', 'other.jsonl', '--db', 'x.db', '--link', '100G', '--json'], json)).toBe(0);
    expect(JSON.parse(json.out())).toMatchObject({ inserted: 0, duplicates: 1, link: '100G', linkTagged: 1 });
    expect(links()).toEqual(['m1/nic0:10G', 'm1/ram:25G', 'm2/ram:100G']);
  });

  it('prints its help with --help', async () => {
    const io = captureIo(tmp.dir);
    expect(await runCli(['import', '--help'], io)).toBe(0);
    expect(io.out()).toMatch(/^Usage: vfio-sla import <files\.\.\.>/);
  });
});
