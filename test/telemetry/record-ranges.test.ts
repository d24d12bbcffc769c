/**
 * Issue 18, items 4 and 8: times past the JS Date range were accepted and then broke `report`
 * for the whole database ("Invalid time value") and gave `export` a `day=318857-05-20`
 * partition; a record the schema's CHECK refuses (a link starting with NUL) was swallowed by
 * `INSERT OR IGNORE` and counted as "already stored".
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { Store } from '../../src/store/store.js';
import { captureIo } from '../cli/io.js';
import { buildLabStore } from '../report/lab-store.js';
import { arc, outcome, ram, size, tempDb, transfer } from '../store/fixtures.js';

let tmp: ReturnType<typeof tempDb>;
beforeEach(() => {
  tmp = tempDb('vfio-sla-ranges-');
});
afterEach(() => tmp.cleanup());

interface Summary {
  accepted: number;
  rejected: number;
  duplicates: number;
  errors: { line: number; reason: string }[];
}

async function importLines(records: readonly unknown[]): Promise<{ code: number; summary: Summary }> {
  const file = join(tmp.dir, 'hostile.jsonl');
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const io = captureIo(tmp.dir);
  const code = await runCli(['import', file, '--db', tmp.db, '--json'], io);
  return { code, summary: JSON.parse(io.out()) as Summary };
}

describe('times and sizes out of any sane range are rejected on input, naming the field', () => {
  it.each([
    ['a start time of 1e16 ms (year 318857)', arc({ startedAtMs: 1e16 }), 'arc.startedAtMs: expected a time in ms from 0 to the year 9999, got 10000000000000000'],
    ['a RAM poll at 1e308 ms', ram({ atMs: 1e308 }), 'ram.atMs: expected a time in ms from 0 to the year 9999, got 1e+308'],
    ['an outcome decided at 1e300 ms', outcome({ decidedAtMs: 1e300 }), 'outcome.decidedAtMs: expected a time in ms from 0 to the year 9999, got 1e+300'],
    ['a latency of 1e308 ms', arc({ latencyMs: 1e308 }), 'arc.latencyMs: expected a non-negative number of ms up to 366 days, got 1e+308'],
    ['a blackout of 10 years', outcome({ actualBlackoutMs: 3.2e11 }), 'outcome.actualBlackoutMs: expected a non-negative number of ms up to 366 days, got 320000000000'],
    ['a device state of 2^53 - 1 bytes', size({ stopCopyBytes: Number.MAX_SAFE_INTEGER }), 'size.stopCopyBytes: expected a non-negative integer of bytes up to 2^50, got 9007199254740991'],
    ['a bandwidth of 1e300 bytes/s', ram({ bandwidthBytesPerS: 1e300 }), 'ram.bandwidthBytesPerS: expected a non-negative rate up to 2^50, got 1e+300'],
  ])('%s', async (_name, record, reason) => {
    const { code, summary } = await importLines([record]);
    expect(code).toBe(1);
    expect([summary.accepted, summary.rejected]).toEqual([0, 1]);
    expect(summary.errors[0]?.reason).toBe(reason);
  });

  it('keeps every record in range: real epoch dates, a 1-hour blackout, a 24 TiB VM', async () => {
    const { code, summary } = await importLines([
      arc({ startedAtMs: Date.UTC(2026, 11, 6) }),
      outcome({ decidedAtMs: Date.UTC(9999, 11, 31), actualBlackoutMs: 3_600_000 }),
      ram({ remainingBytes: 24 * 2 ** 40 }),
    ]);
    expect([code, summary.accepted, summary.rejected]).toEqual([0, 3, 0]);
  });
});

describe('a bad stored record never takes a report or an export down', () => {
  beforeEach(async () => {
    await buildLabStore(tmp.db, { migrations: 8 });
    // As a database written before validation bounded times would hold them.
    const db = new Database(tmp.db);
    db.prepare('UPDATE arcs SET started_at_ms = 1e16 + started_at_ms WHERE migration_ref = (SELECT min(migration_ref) FROM arcs)').run();
    db.close();
  });

  it('report writes the page and warns, naming the arc group', async () => {
    const io = captureIo(tmp.dir);
    expect(await runCli(['report', '--db', tmp.db, '--out', 'r.html'], io)).toBe(0);
    expect(io.err()).toMatch(/: an arc starts at 1000\d+ ms, past the year 9999 \(a bad stored record\)/);
    expect(existsSync(join(tmp.dir, 'r.html'))).toBe(true);
  });

  it('export leaves that migration out, names it, and writes no day past 9999', async () => {
    const io = captureIo(tmp.dir);
    expect(await runCli(['export', '--db', tmp.db, '--out', 'ex', '--json'], io)).toBe(0);
    const summary = JSON.parse(io.out()) as { migrations: number; outOfRange: string[] };
    expect([summary.migrations, summary.outOfRange.length]).toEqual([7, 1]);
    expect(io.err()).toContain(`left out 1 migration(s) whose times are past the year 9999 (bad stored records): ${summary.outOfRange[0]}`);
    const days = readdirSync(join(tmp.dir, 'ex', 'arcs'));
    expect(days.every((d) => /^day=\d{4}-\d\d-\d\d$/.test(d))).toBe(true);
  });
});

describe('what the schema refuses is a reject with its reason, never a duplicate', () => {
  it('a link starting with NUL is rejected on input, not counted as already stored', async () => {
    const { code, summary } = await importLines([transfer({ link: '\u0000evil' }), transfer()]);
    expect(code).toBe(1);
    expect([summary.accepted, summary.rejected, summary.duplicates]).toEqual([1, 1, 0]);
    expect(summary.errors[0]?.reason).toMatch(/^transfer\.link: expected a link name of 1–128 characters without control characters/);
  });

  it.each([
    ['an escape sequence in a migration id', arc({ migrationId: 'vm1\u001b]0;owned\u0007' }), 'arc.migrationId'],
    ['a NUL in a device model', arc({ deviceModel: 'mlx5\u0000' }), 'arc.deviceModel'],
    ['a C1 control in a policy', outcome({ policy: 'gov\u009bernor' }), 'outcome.policy'],
  ])('%s is rejected naming the field', async (_name, record, field) => {
    const { summary } = await importLines([record]);
    expect(summary.errors[0]?.reason).toMatch(new RegExp(`^${field.replace('.', '\\.')}: expected a non-empty string without control characters`));
  });

  it('the store throws on a CHECK violation instead of counting it as a duplicate', () => {
    const store = Store.open(tmp.db);
    try {
      // Past validation (a caller of writeBatch, or a record from an older spill file).
      expect(() => store.writeBatch([{ record: transfer({ link: '\u0000x' }), source: undefined }])).toThrow(/CHECK constraint failed/);
      expect(store.writeBatch([{ record: transfer(), source: undefined }])).toEqual({ inserted: 1, duplicates: 0, rejected: 0 });
      expect(store.writeBatch([{ record: transfer(), source: undefined }])).toEqual({ inserted: 0, duplicates: 1, rejected: 0 });
    } finally {
      store.close();
    }
  });
});
