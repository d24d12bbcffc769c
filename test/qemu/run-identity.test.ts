/**
 * Issue 18, item 2: QMP migration ids come from `<parent folder>/<file stem>`, so two different
 * runs in `hostA/Precopy_Convergent/mig-stats-run-1.json` and `hostB/…` got one id and were merged
 * (two outcomes, interleaved RAM polls, exit 0) — then learned from by `fit` and `eval`. A
 * collision of different content is now an error naming both files; the same content is one run.
 */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { listMigrations } from '../../src/store/inventory.js';
import { ramProgress } from '../../src/store/queries.js';
import { captureIo } from '../cli/io.js';
import { tempDb, withStore } from '../store/fixtures.js';

let tmp: ReturnType<typeof tempDb>;
beforeEach(() => {
  tmp = tempDb('vfio-sla-runid-');
});
afterEach(() => tmp.cleanup());

/** A QMP poll-array run of `passes` pre-copy polls, then a completed poll with statistics; `seed` varies it. */
function pollArray(seed: number, passes: number): string {
  const total = 8e9;
  const polls: unknown[] = [{ t_monotonic: 1000 + seed, query_migrate: {} }];
  for (let i = 1; i <= passes; i++) {
    polls.push({
      t_monotonic: 1000 + seed + i * 0.1,
      query_migrate: {
        status: 'active', 'total-time': i * 100, 'expected-downtime': 300 + seed,
        ram: { total, transferred: i * 1e8, remaining: total - i * 1e8 - seed, 'dirty-sync-count': i, mbps: 8000, 'page-size': 4096, 'dirty-pages-rate': 1000 * seed },
      },
    });
  }
  polls.push({
    t_monotonic: 1000 + seed + (passes + 1) * 0.1,
    query_migrate: {
      status: 'completed', 'total-time': (passes + 1) * 100, downtime: 40 + seed,
      ram: { total, transferred: total, remaining: 0, 'downtime-bytes': 5e7, 'dirty-sync-count': passes + 1, mbps: 8000, 'page-size': 4096 },
    },
  });
  return JSON.stringify(polls);
}

function runFile(host: string, seed: number, passes = 5): string {
  const dir = join(tmp.dir, host, 'Precopy_Convergent');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'mig-stats-run-1.json');
  writeFileSync(file, pollArray(seed, passes));
  return file;
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo(tmp.dir);
  const code = await runCli(argv, io);
  return { code, out: io.out(), err: io.err() };
}

const ID = 'Precopy_Convergent/mig-stats-run-1';

describe('two QMP runs with one derived migration id', () => {
  it('in one import: the second is rejected naming both files, the first is stored alone', async () => {
    const a = runFile('hostA', 1, 5);
    const b = runFile('hostB', 2, 7);
    const r = await cli('import', a, b, '--db', tmp.db);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`migration id '${ID}' of ${b} is already the id of a different run from ${a}`);
    withStore(tmp.db, (s) => {
      expect(listMigrations(s).map((m) => [m.migrationId, m.sourceFile])).toEqual([[ID, a]]);
      expect(ramProgress(s, ID)).toHaveLength(5);
      expect(s.db.prepare('SELECT count(*) FROM outcomes').pluck().get()).toBe(1);
    });
  });

  it('in a later import: rejected naming the file the stored run came from', async () => {
    const a = runFile('hostA', 1, 5);
    expect((await cli('import', a, '--db', tmp.db)).code).toBe(0);
    const b = runFile('hostB', 2, 7);
    const r = await cli('import', b, '--db', tmp.db, '--json');
    expect(r.code).toBe(1);
    const summary = JSON.parse(r.out) as { accepted: number; rejected: number; errors: { file: string; reason: string }[] };
    expect([summary.accepted, summary.rejected]).toEqual([0, 1]);
    expect(summary.errors[0]?.reason).toContain(`is already the id of a different run from ${a}`);
    withStore(tmp.db, (s) => expect(ramProgress(s, ID)).toHaveLength(5));
  });

  it('the same content from another folder, or imported twice, is one run: exit 0, nothing added', async () => {
    const a = runFile('hostA', 1, 5);
    const c = runFile('hostC', 1, 5);
    // A copy made later: only monotonic times, so the file's modification time dates the run.
    utimesSync(c, new Date(Date.parse('2026-03-01T10:00:07Z')), new Date(Date.parse('2026-03-01T10:00:07Z')));
    utimesSync(a, new Date(Date.parse('2026-03-01T10:00:00Z')), new Date(Date.parse('2026-03-01T10:00:00Z')));
    expect((await cli('import', a, c, '--db', tmp.db)).code).toBe(0);
    const stored = withStore(tmp.db, (s) => ramProgress(s, ID));
    expect(stored).toHaveLength(5);
    // Dated as the first file was: its last poll (the completed one) at its modification time.
    expect(stored.at(-1)?.atMs).toBeCloseTo(Date.parse('2026-03-01T10:00:00Z') - 100, 3);
    const again = await cli('import', c, a, '--db', tmp.db, '--json');
    expect(again.code, again.out).toBe(0);
    expect((JSON.parse(again.out) as { inserted: number }).inserted).toBe(0);
    withStore(tmp.db, (s) => expect(ramProgress(s, ID)).toEqual(stored));
    // A later copy alone, into the store that has the run from the first: the same run.
    const d = runFile('hostD', 1, 5);
    utimesSync(d, new Date(Date.parse('2026-03-02T08:00:00Z')), new Date(Date.parse('2026-03-02T08:00:00Z')));
    const copy = await cli('import', d, '--db', tmp.db, '--json');
    expect(copy.code, copy.out).toBe(0);
    expect(JSON.parse(copy.out)).toMatchObject({ rejected: 0, inserted: 0 });
    withStore(tmp.db, (s) => expect(ramProgress(s, ID)).toEqual(stored));
  });

  it('a different run under the id with as many polls is still rejected, whatever its date', async () => {
    const a = runFile('hostA', 1, 5);
    expect((await cli('import', a, '--db', tmp.db)).code).toBe(0);
    const b = runFile('hostB', 2, 5);
    utimesSync(b, new Date(Date.parse('2026-03-02T08:00:00Z')), new Date(Date.parse('2026-03-02T08:00:00Z')));
    const r = await cli('import', b, '--db', tmp.db);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`is already the id of a different run from ${a}`);
  });

  it('eval refuses to learn from two runs under one id: exit 1 naming both files', async () => {
    const a = runFile('hostA', 1, 5);
    const b = runFile('hostB', 2, 7);
    for (let i = 2; i <= 4; i++) writeFileSync(join(tmp.dir, 'hostA', 'Precopy_Convergent', `mig-stats-run-${i}.json`), pollArray(10 + i, 6));
    const r = await cli('eval', join(tmp.dir, 'hostA'), join(tmp.dir, 'hostB'));
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${b}:1: migration id '${ID}' of ${b} is already the id of a different run from ${a}`);
  });
});

describe('a UTF-8 byte order mark', () => {
  it('before a QMP poll array does not reject the file (as before a records file: issue 18, Low)', async () => {
    const file = runFile('bom', 1, 5);
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(pollArray(1, 5))]));
    const r = await cli('import', file, '--db', tmp.db, '--json');
    const summary = JSON.parse(r.out) as { accepted: number; rejected: number };
    expect([r.code, summary.rejected]).toEqual([0, 0]);
    expect(summary.accepted).toBeGreaterThan(5);
  });
});
