import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { anchorMonotonic, migrationToRecords, parseQmpLog, type QmpMigration } from '../../src/qemu/qmp-log.js';
import type { OutcomeRecord, RamRecord, TelemetryRecord, TransferRecord } from '../../src/records/records.js';
import { datasetRunFiles, HAVE_DATASET, perRunSummary } from '../helpers/dataset.js';
import { pollArrayToWireLog } from './wire-log-fixture.js';

const ram = (over: Record<string, number> = {}): Record<string, number> => ({
  total: 8589934592,
  transferred: 1000,
  remaining: 5000,
  'precopy-bytes': 1000,
  'downtime-bytes': 0,
  'postcopy-bytes': 0,
  'dirty-sync-count': 1,
  'dirty-pages-rate': 10,
  'page-size': 4096,
  mbps: 8,
  ...over,
});

/** A small poll array: two active polls, a device poll, a bare and a full completed poll, unordered. */
function smallArray(): unknown[] {
  return [
    { t_monotonic: 10.4, query_migrate: { status: 'completed', 'total-time': 600, downtime: 20, ram: ram({ transferred: 9000, 'downtime-bytes': 3000, remaining: 0 }) } },
    { t_monotonic: 10.0, query_migrate: { status: 'active', 'total-time': 200, 'expected-downtime': 300, ram: ram() } },
    { t_monotonic: 9.8, query_migrate: {} },
    { t_monotonic: 10.2, query_migrate: { status: 'active', 'total-time': 400, 'expected-downtime': 120, ram: ram({ remaining: 2000, 'dirty-sync-count': 2 }) } },
    { t_monotonic: 10.3, query_migrate: { status: 'device', 'total-time': 500, ram: ram({ remaining: 0, 'dirty-sync-count': 3 }) } },
    { t_monotonic: 99, query_migrate: { status: 'completed' } },
  ];
}

const byKind = <K extends TelemetryRecord['kind']>(rs: TelemetryRecord[], kind: K): Extract<TelemetryRecord, { kind: K }>[] =>
  rs.filter((r): r is Extract<TelemetryRecord, { kind: K }> => r.kind === kind);

describe('parseQmpLog, poll-array form', () => {
  it('sorts polls by time, skips {} polls and names the migration after the last two path components', () => {
    const { migrations, errors } = parseQmpLog(JSON.stringify(smallArray()), '/data/raw/Precopy_X/mig-stats-run-3.json');
    expect(errors).toEqual([]);
    expect(migrations).toHaveLength(1);
    const m = migrations[0] as QmpMigration;
    expect(m.migrationId).toBe('Precopy_X/mig-stats-run-3');
    expect(m.polls.map((p) => p.status)).toEqual(['active', 'active', 'device', 'completed', 'completed']);
    expect(m.polls[0]).toMatchObject({ atMs: 10_000, totalTimeMs: 200, expectedDowntimeMs: 300 });
    expect(m.polls[0]?.ram).toMatchObject({ remainingBytes: 5000, dirtyPagesPerS: 10, pageSizeBytes: 4096, mbps: 8 });
  });

  it('emits ram, transfer and outcome records that add up to QEMU totals', () => {
    const m = parseQmpLog(JSON.stringify(smallArray()), 'a/b.json').migrations[0] as QmpMigration;
    expect(m.clock).toBe('monotonic');
    const recs = migrationToRecords(m);
    const rams = byKind(recs, 'ram');
    expect(rams).toHaveLength(3);
    expect(rams[0]).toEqual<RamRecord>({
      kind: 'ram',
      migrationId: 'a/b',
      atMs: 10_000,
      pass: 1,
      remainingBytes: 5000,
      dirtyBytesPerS: 40_960,
      bandwidthBytesPerS: 1_000_000,
      expectedDowntimeMs: 300,
    });
    expect(rams[2]).not.toHaveProperty('expectedDowntimeMs');
    const transfers = byKind(recs, 'transfer');
    expect(transfers).toEqual<TransferRecord[]>([
      { kind: 'transfer', migrationId: 'a/b', deviceId: 'ram', phase: 'precopy', bytes: 6000, durationMs: 580 },
      { kind: 'transfer', migrationId: 'a/b', deviceId: 'ram', phase: 'stopcopy', bytes: 3000, durationMs: 20 },
    ]);
    expect(byKind(recs, 'outcome')).toEqual<OutcomeRecord[]>([
      {
        kind: 'outcome',
        migrationId: 'a/b',
        policy: 'qemu',
        deadlineMs: 300,
        decidedAtMs: expect.closeTo(10_200, 6) as number,
        predictedBlackoutMs: 120,
        actualBlackoutMs: 20,
        met: true,
      },
    ]);
  });

  it('reports a migration that never completes as an error and gives it no outcome', () => {
    const arr = smallArray().filter((p) => (p as { query_migrate: { status?: string } }).query_migrate.status !== 'completed');
    const { migrations, errors } = parseQmpLog(JSON.stringify(arr), 'x/never.json');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.reason).toMatch(/never completed.*last status: device/);
    const recs = migrationToRecords(migrations[0] as QmpMigration);
    expect(byKind(recs, 'outcome')).toEqual([]);
    expect(byKind(recs, 'ram')).toHaveLength(3);
  });

  it('skips a completed reply QEMU 7.2 sends before its final statistics', () => {
    const early = { t_monotonic: 10.35, query_migrate: { status: 'completed', 'total-time': 0, downtime: 0, ram: ram({ remaining: 0 }) } };
    const { migrations } = parseQmpLog(JSON.stringify([early, ...smallArray()]), 'x/early.json');
    const [outcome] = byKind(migrationToRecords(migrations[0] as QmpMigration), 'outcome');
    expect(outcome?.actualBlackoutMs).toBe(20);
  });

  it('reports bad elements with their line and keeps the rest', () => {
    const arr = smallArray();
    const text = ['[', ...arr.map((p) => JSON.stringify(p)).join(',\n').split('\n'), ',{"t_monotonic": 10.25, "query_migrate": {"status": "active", "ram": {"total": "big"}}}', ',{"query_migrate": {}}', ',{"ts": 1784000000, "query_migrate": {}}', ']'].join('\n');
    const { migrations, errors } = parseQmpLog(text, 'x/y.json');
    expect(errors).toEqual([
      { file: 'x/y.json', line: 8, reason: 'ram.total is not a finite number' },
      { file: 'x/y.json', line: 9, reason: 'poll 7 has neither t_monotonic nor ts' },
      { file: 'x/y.json', line: 10, reason: 'poll 8 has a ts but no t_monotonic, and the array is timed by t_monotonic (not every poll has a ts)' },
    ]);
    expect(migrations[0]?.polls).toHaveLength(5);
  });

  it('takes Unix time from "ts" when every poll has it, else t_monotonic throughout', () => {
    const withTs = smallArray().map((p, i) => ({ ...(p as object), ts: 1_784_000_000 + i }));
    const epoch = parseQmpLog(JSON.stringify(withTs), 'x/ts.json').migrations[0] as QmpMigration;
    expect(epoch.clock).toBeUndefined();
    expect(epoch.polls.map((p) => p.atMs)).toEqual([1_784_000_000_000, 1_784_000_001_000, 1_784_000_003_000, 1_784_000_004_000, 1_784_000_005_000]);
    const mixed = withTs.map((p, i) => (i === 1 ? { ...p, ts: undefined } : p));
    const mono = parseQmpLog(JSON.stringify(mixed), 'x/mixed.json').migrations[0] as QmpMigration;
    expect(mono.clock).toBe('monotonic');
    expect(mono.polls[0]?.atMs).toBe(10_000);
  });

  it('anchors monotonic times so that the last poll falls at the given Unix time', () => {
    const m = parseQmpLog(JSON.stringify(smallArray()), 'x/a.json').migrations[0] as QmpMigration;
    const anchored = anchorMonotonic(m, 1_784_000_000_000);
    expect(anchored.clock).toBeUndefined();
    expect(anchored.polls.map((p) => p.atMs)).toEqual(m.polls.map((p) => p.atMs - 99_000 + 1_784_000_000_000));
    expect(anchorMonotonic(anchored, 5)).toBe(anchored);
  });

  it('reports text that is not JSON with the line of the syntax error', () => {
    const { migrations, errors } = parseQmpLog('[\n{"ts": 1,\n "query_migrate": {]\n', 'x/z.json');
    expect(migrations).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.line).toBe(3);
    expect(errors[0]?.reason).toMatch(/^not JSON/);
  });
});

describe('parseQmpLog, wire-log form', () => {
  const lines = pollArrayToWireLog(smallArray() as never, { downtimeLimitMs: 15 });

  it('reads the same migration as the poll array, with the deadline from query-migrate-parameters', () => {
    const wire = parseQmpLog(lines.join('\n'), 'logs/host1/qmp.log');
    expect(wire.errors).toEqual([]);
    expect(wire.migrations).toHaveLength(1);
    const w = wire.migrations[0] as QmpMigration;
    expect(w.migrationId).toBe('host1/qmp');
    expect(w.downtimeLimitMs).toBe(15);
    expect(w.events.map((e) => e.event)).toEqual(['MIGRATION', 'MIGRATION', 'MIGRATION_PASS', 'MIGRATION_PASS', 'STOP', 'MIGRATION', 'MIGRATION_PASS', 'MIGRATION']);
    const arr = parseQmpLog(JSON.stringify(smallArray()), 'logs/host1/qmp.json').migrations[0] as QmpMigration;
    const strip = (rs: TelemetryRecord[]): unknown[] => rs.map((r) => (r.kind === 'outcome' ? { ...r, deadlineMs: 0, met: false } : r));
    // The wire log's greeting says which QEMU ran it (a `stack` record); the poll array cannot.
    expect(byKind(migrationToRecords(w), 'stack')).toEqual([{ kind: 'stack', migrationId: 'host1/qmp', side: 'source', qemuVersion: '9.0.0' }]);
    const wr = migrationToRecords(w).filter((r) => r.kind !== 'stack');
    const ar = migrationToRecords(anchorMonotonic(arr, w.polls.at(-1)?.atMs ?? NaN));
    expect(strip(wr).length).toBe(strip(ar).length);
    wr.forEach((r, i) => {
      const a = ar[i] as TelemetryRecord;
      if (r.kind === 'ram' && a.kind === 'ram') expect(r.atMs).toBeCloseTo(a.atMs, 2);
    });
    const o = byKind(wr, 'outcome')[0];
    expect(o).toMatchObject({ deadlineMs: 15, actualBlackoutMs: 20, met: false });
  });

  it('splits several migrations in one log and suffixes their ids', () => {
    const again = pollArrayToWireLog(
      smallArray().map((p) => ({ ...(p as object), t_monotonic: (p as { t_monotonic: number }).t_monotonic + 100 })) as never,
    );
    const { migrations, errors } = parseQmpLog([...lines, ...again].join('\n'), 'h/qmp.log');
    expect(errors).toEqual([]);
    expect(migrations.map((m) => m.migrationId)).toEqual(['h/qmp', 'h/qmp#2']);
    expect(migrations.map((m) => m.polls.length)).toEqual([5, 5]);
    expect(migrations[1]?.downtimeLimitMs).toBe(15);
  });

  it('reports bad lines by number and ignores greetings, errors and other replies', () => {
    const bad = [
      ...lines.slice(0, 3),
      'not json',
      '{"return": {"status": "active", "ram": {"total": 1, "transferred": 1, "remaining": 1}}}',
      '{"error": {"class": "GenericError", "desc": "x"}}',
      '{"return": [1, 2]}',
      '{"event": "STOP"}',
      '42',
      '{"hello": 1}',
      ...lines.slice(3),
    ];
    const { migrations, errors } = parseQmpLog(bad.join('\n'), 'h/bad.log');
    expect(errors.map((e) => [e.line, e.reason.replace(/:.*/, '')])).toEqual([
      [4, 'not JSON'],
      [5, 'query-migrate reply has no top-level "ts"'],
      [8, 'event has no timestamp object'],
      [9, 'line is not a JSON object'],
      [10, 'neither an event, a reply nor a greeting'],
    ]);
    expect(migrations).toHaveLength(1);
    expect(migrations[0]?.polls).toHaveLength(5);
  });

  it("reads watch --drive's governor annotation into the migration, and names a bad field of it with its line", () => {
    const attempt = { policy: 'governor', status: 'aborted', reason: 'DEADLINE_UNREACHABLE', deadlineMs: 300, totalTimeMs: 1200 };
    const good = parseQmpLog([...lines, JSON.stringify({ 'vfio-sla': 'governor', attempt })].join('\n'), 'h/steered.log');
    expect(good.errors).toEqual([]);
    expect(good.migrations[0]?.governor).toEqual({ attempt });
    expect(migrationToRecords(good.migrations[0] as QmpMigration).filter((r) => r.kind === 'attempt')).toEqual([{ kind: 'attempt', migrationId: 'h/steered', ...attempt }]);
    const bad = parseQmpLog([...lines, JSON.stringify({ 'vfio-sla': 'governor', attempt: { ...attempt, status: 'gave-up' } })].join('\n'), 'h/bad.log');
    expect(bad.errors).toEqual([{ file: 'h/bad.log', line: lines.length + 1, reason: 'vfio-sla governor attempt.status is not one of completed, aborted, cancelled, failed' }]);
    expect(bad.migrations[0]?.governor).toBeUndefined();
  });
});

describe.skipIf(!HAVE_DATASET)('parseQmpLog on the shared QEMU dataset', () => {
  const files = HAVE_DATASET ? datasetRunFiles() : [];
  const summary = HAVE_DATASET ? perRunSummary() : new Map<string, Record<string, string>>();

  it('reads all 100 runs without errors and matches per_run_summary.csv', () => {
    expect(files).toHaveLength(100);
    let checked = 0;
    for (const file of files) {
      const { migrations, errors } = parseQmpLog(readFileSync(file, 'utf8'), file);
      expect(errors).toEqual([]);
      expect(migrations).toHaveLength(1);
      const m = migrations[0] as QmpMigration;
      const row = summary.get(m.migrationId);
      expect(row, m.migrationId).toBeDefined();
      const recs = migrationToRecords(m);
      const t = byKind(recs, 'transfer');
      const o = byKind(recs, 'outcome')[0];
      expect(o?.actualBlackoutMs).toBe(Number(row?.['downtime_ms']));
      expect(t.reduce((s, r) => s + r.durationMs, 0)).toBe(Number(row?.['total_time_ms']));
      expect(t.reduce((s, r) => s + r.bytes, 0)).toBe(Number(row?.['transferred_bytes']));
      expect(t.find((r) => r.phase === 'stopcopy')?.bytes).toBe(Number(row?.['downtime_bytes']));
      // per_run_summary counts post-copy polls too; ram records are pre-copy (active/device) only.
      const postcopyPolls = m.polls.filter((p) => p.status === 'postcopy-active').length;
      expect(byKind(recs, 'ram').length + postcopyPolls).toBe(Number(row?.['n_active_polls']));
      checked++;
    }
    expect(checked).toBe(100);
  });

  it('gives the same records for a dataset run converted to a wire log', () => {
    const file = files.find((f) => f.endsWith('Precopy_Convergent/mig-stats-run-1.json')) as string;
    const text = readFileSync(file, 'utf8');
    const wire = parseQmpLog(pollArrayToWireLog(JSON.parse(text) as never).join('\n'), file);
    expect(wire.errors).toEqual([]);
    // Less the greeting's `stack` record: the poll array does not say which QEMU ran it.
    const fromWire = migrationToRecords(wire.migrations[0] as QmpMigration).filter((r) => r.kind !== 'stack');
    const fromArray = migrationToRecords(anchorMonotonic(parseQmpLog(text, file).migrations[0] as QmpMigration, wire.migrations[0]?.polls.at(-1)?.atMs ?? NaN));
    expect(fromWire).toHaveLength(fromArray.length);
    fromWire.forEach((r, i) => {
      const a = fromArray[i] as TelemetryRecord;
      expect(r.kind).toBe(a.kind);
      if (r.kind === 'ram' && a.kind === 'ram') {
        expect({ ...r, atMs: 0 }).toEqual({ ...a, atMs: 0 });
        expect(r.atMs).toBeCloseTo(a.atMs, 2);
      } else if (r.kind === 'outcome' && a.kind === 'outcome') {
        expect({ ...r, decidedAtMs: 0 }).toEqual({ ...a, decidedAtMs: 0 });
      } else {
        expect(r).toEqual(a);
      }
    });
  });
});
