import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listMigrations, listRejects, recordCount, tableCounts } from '../../src/store/inventory.js';
import { attempts, ramProgress } from '../../src/store/queries.js';
import { Store } from '../../src/store/store.js';
import { detectFormat } from '../../src/app/file-format.js';
import { importFiles } from '../../src/app/import-files.js';
import { RecordingPipeline } from '../../src/telemetry/pipeline.js';
import { arc, outcome, ram, size, tempDb, transfer } from '../store/fixtures.js';

let tmp: ReturnType<typeof tempDb>;
let store: Store;
let pipeline: RecordingPipeline;
beforeEach(() => {
  tmp = tempDb();
  store = Store.open(tmp.db);
  pipeline = new RecordingPipeline(store, { batchSize: 3 });
});
afterEach(async () => {
  await pipeline.close();
  store.close();
  tmp.cleanup();
});

const line = (v: unknown): string => JSON.stringify(v);

describe('detectFormat', () => {
  it.each([
    ['a JSON array of polls', '  [{"t_monotonic": 1, "query_migrate": {}}]', 'qmp-polls'],
    ['our records', '{"kind":"ram","migrationId":"m"}\n', 'records'],
    ['a QMP wire log', '{"QMP": {"version": {}}}\n{"return": {}}\n', 'qmp-wire'],
    ['a wire log starting with an event', '{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "STOP"}', 'qmp-wire'],
    ['records after a bad first line', 'garbage\n{"kind":"arc"}', 'records'],
    ['a file without any hint', 'nothing here\n', 'records'],
  ])('recognises %s', (_name, head, format) => {
    expect(detectFormat(head)).toBe(format);
  });
});

describe('importing our JSON-lines records', () => {
  it('accepts the good lines of a mixed file and rejects every kind of bad line with its file:line', async () => {
    const file = join(tmp.dir, 'mixed.jsonl');
    const lines = [
      line(arc({ startedAtMs: 1 })), // 1
      '{"kind":"arc",', // 2 bad JSON
      line(size()), // 3
      line({ kind: 'disk', migrationId: 'm1' }), // 4 unknown kind
      line({ ...arc({ startedAtMs: 2 }), latencyMs: '12' }), // 5 wrong type
      '', // 6 blank: skipped, not an error
      line(arc({ startedAtMs: 3, latencyMs: -5 })), // 7 negative latency
      line(size({ atMs: 5, stopCopyBytes: -1 })), // 8 negative size
      '{"kind":"ram","migrationId":"m1","atMs":NaN}', // 9 NaN (not JSON)
      line(arc({ startedAtMs: 4, to: 'STOPCOPY' })), // 10 unknown state name
      line(transfer()) + '\r', // 11 CRLF line
      line(ram()), // 12
      line(outcome()), // 13, no trailing newline
    ];
    writeFileSync(file, lines.join('\n'));
    const summary = await importFiles([file], pipeline);
    expect(summary).toMatchObject({ accepted: 5, rejected: 7, inserted: 5, duplicates: 0, complete: true });
    expect(summary.files).toEqual([{ file, format: 'records', accepted: 5, rejected: 7 }]);
    const rejects = listRejects(store).map((r) => [r.line, r.reason.replace(/^bad JSON: .*/, 'bad JSON')]);
    expect(rejects).toEqual([
      [2, 'bad JSON'],
      [4, 'record: unknown kind "disk"'],
      [5, 'arc.latencyMs: expected a non-negative number of ms up to 366 days, got "12"'],
      [7, 'arc.latencyMs: expected a non-negative number of ms up to 366 days, got -5'],
      [8, 'size.stopCopyBytes: expected a non-negative integer of bytes up to 2^50, got -1'],
      [9, 'bad JSON'],
      [10, 'arc.to: expected a VFIO migration state name, got "STOPCOPY"'],
    ]);
    expect(listRejects(store).every((r) => r.file === file)).toBe(true);
    expect(summary.errors.map((e) => `${e.file}:${e.line}`)).toEqual([2, 4, 5, 7, 8, 9, 10].map((n) => `${file}:${n}`));
    expect(tableCounts(store)).toMatchObject({ arcs: 1, sizes: 1, transfers: 1, ram_progress: 1, outcomes: 1, rejects: 7 });
  });

  it('adds nothing when the same file is imported again', async () => {
    const file = join(tmp.dir, 'good.jsonl');
    writeFileSync(file, [arc(), ram(), '{bad'].map((v) => (typeof v === 'string' ? v : line(v))).join('\n') + '\n');
    await importFiles([file], pipeline);
    const again = await importFiles([file], pipeline);
    expect(again).toMatchObject({ accepted: 2, inserted: 0, duplicates: 2, rejected: 1 });
    expect(recordCount(store)).toBe(2);
    expect(tableCounts(store).rejects).toBe(1);
  });

  it('reports progress in bytes up to the total size of the files', async () => {
    const file = join(tmp.dir, 'p.jsonl');
    writeFileSync(file, `${line(ram())}\n`);
    const seen: Array<[number, number]> = [];
    await importFiles([file], pipeline, { onProgress: (done, total) => seen.push([done, total]) });
    const size = Buffer.byteLength(`${line(ram())}\n`);
    expect(seen.at(-1)).toEqual([size, size]);
  });
});

describe('importing a QMP wire log (form 1)', () => {
  it('turns the replies into ram, transfer, outcome and attempt records with the log\'s downtime-limit', async () => {
    const file = join(tmp.dir, 'host-a', 'wire.log');
    const ramStats = (transferred: number, remaining: number, downtimeBytes: number): Record<string, number> => ({
      total: 8_589_934_592,
      transferred,
      remaining,
      'downtime-bytes': downtimeBytes,
      'dirty-sync-count': 2,
      'dirty-pages-rate': 100,
      'page-size': 4096,
      mbps: 1000,
    });
    const log = [
      { QMP: { version: {}, capabilities: [] } },
      { return: { 'downtime-limit': 250 } },
      { return: { status: 'active', 'total-time': 1000, 'expected-downtime': 180, ram: ramStats(1_000_000, 500_000, 0) }, ts: 1700000000.5 },
      { return: { status: 'completed', 'total-time': 2040, downtime: 40, ram: ramStats(2_000_000, 0, 300_000) }, ts: 1700000001.6 },
    ];
    mkdirSync(join(tmp.dir, 'host-a'));
    writeFileSync(file, log.map(line).join('\n') + '\n');
    const summary = await importFiles([file], pipeline);
    expect(summary.files).toEqual([{ file, format: 'qmp-wire', accepted: 5, rejected: 0, migrations: 1 }]);
    expect(listMigrations(store)).toEqual([
      expect.objectContaining({ migrationId: 'host-a/wire', transferredBytes: 2_000_000, totalTimeMs: 2040, downtimeMs: 40, deadlineMs: 250, met: true, policy: 'qemu' }),
    ]);
    expect(ramProgress(store, 'host-a/wire')).toEqual([expect.objectContaining({ atMs: 1_700_000_000_500, remainingBytes: 500_000, expectedDowntimeMs: 180 })]);
    // How it ended, so that `stats` counts it with its total time: QEMU's rule, its expected downtime as the bound.
    expect(attempts(store)).toEqual([
      { kind: 'attempt', migrationId: 'host-a/wire', policy: 'qemu', status: 'completed', reason: "QEMU's own rule", deadlineMs: 250, totalTimeMs: 2040, predictedBlackoutMs: 180 },
    ]);
  });
});

describe('importing a poll array with only monotonic times (form 2)', () => {
  it("dates it by the file's modification time, as its last poll, and says so", async () => {
    const file = join(tmp.dir, 'run', 'mig-stats-run-1.json');
    const poll = (t: number, q: Record<string, unknown>): Record<string, unknown> => ({ t_monotonic: t, query_migrate: q });
    const ramStats = { total: 1e9, transferred: 1e6, remaining: 5e5, 'downtime-bytes': 1e5, 'dirty-sync-count': 1, 'dirty-pages-rate': 1, 'page-size': 4096, mbps: 100 };
    mkdirSync(join(tmp.dir, 'run'));
    writeFileSync(file, JSON.stringify([poll(500, { status: 'active', 'total-time': 100, ram: ramStats }), poll(502.5, { status: 'completed', 'total-time': 2600, downtime: 10, ram: ramStats })]));
    const mtimeMs = Date.UTC(2026, 6, 14, 12, 0, 0);
    utimesSync(file, mtimeMs / 1000, mtimeMs / 1000);
    const summary = await importFiles([file], pipeline);
    expect(summary.files[0]).toMatchObject({ format: 'qmp-polls', timedByMtime: '2026-07-14T12:00:00.000Z' });
    expect(ramProgress(store, 'run/mig-stats-run-1')).toEqual([expect.objectContaining({ atMs: mtimeMs - 2500 })]);
  });
});
