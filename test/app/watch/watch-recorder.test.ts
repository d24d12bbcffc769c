import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { QmpWireLine } from '../../../src/qemu/qmp-protocol.js';
import { migrationToRecords, parseQmpLog } from '../../../src/qemu/qmp-log.js';
import { WatchRecorder } from '../../../src/app/watch/watch-recorder.js';
import type { AttemptRecord, OutcomeRecord, TelemetryRecord } from '../../../src/records/records.js';
import { DATASET_DIR, HAVE_DATASET } from '../../helpers/dataset.js';

const T0_MS = 1_784_000_000_000.123;

function reply(q: unknown, atMs: number, command = 'query-migrate'): QmpWireLine {
  return { direction: 'in', kind: 'return', command, line: JSON.stringify({ return: q, id: 'c1' }), atMs };
}

function event(name: string, data: Record<string, unknown> | undefined, atMs: number): QmpWireLine {
  const seconds = Math.floor(atMs / 1000);
  const body: Record<string, unknown> = { timestamp: { seconds, microseconds: Math.round((atMs / 1000 - seconds) * 1e6) }, event: name };
  if (data !== undefined) body['data'] = data;
  return { direction: 'in', kind: 'event', line: JSON.stringify(body), atMs };
}

const GREETING: QmpWireLine = { direction: 'in', kind: 'greeting', line: '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}', atMs: T0_MS - 50 };

function active(remaining: number, pass: number, totalTimeMs: number): Record<string, unknown> {
  return {
    status: 'active',
    'total-time': totalTimeMs,
    'setup-time': 2,
    'expected-downtime': 300,
    ram: { total: 134217728, transferred: 1e8 + totalTimeMs * 1000, remaining, 'dirty-sync-count': pass, 'dirty-pages-rate': 5000, 'page-size': 4096, mbps: 1073.7, 'downtime-bytes': 0 },
  };
}

function completed(downtime: number, totalTime: number): Record<string, unknown> {
  return {
    status: 'completed',
    'total-time': totalTime,
    'setup-time': 2,
    downtime,
    ram: { total: 134217728, transferred: 2e8, remaining: 0, 'dirty-sync-count': 9, 'dirty-pages-rate': 0, 'page-size': 4096, mbps: 1100, 'downtime-bytes': 4e6 },
  };
}

/** Feeds `lines` to a recorder; returns what it stored and the log it wrote. */
function record(lines: readonly QmpWireLine[], outcome?: OutcomeRecord, attempt?: AttemptRecord): { records: TelemetryRecord[]; log: string[]; recorder: WatchRecorder } {
  const records: TelemetryRecord[] = [];
  const log: string[] = [];
  const recorder = new WatchRecorder({ migrationId: 'logs/run', source: 'logs/run.qmp', sink: { push: (r) => records.push(r) }, writeLine: (l) => log.push(l) });
  for (const w of lines) recorder.onWire(w);
  recorder.finish(outcome, attempt);
  return { records, log, recorder };
}

/** What `vfio-sla import` makes of the log. */
function imported(log: readonly string[]): { records: TelemetryRecord[]; migrations: number; errors: string[] } {
  const parsed = parseQmpLog(log.join('\n'), 'logs/run.qmp');
  return { records: parsed.migrations.flatMap((m) => migrationToRecords(m)), migrations: parsed.migrations.length, errors: parsed.errors.map((e) => e.reason) };
}

/** A small migration: parameters, setup, three active polls, the completion. */
function smallRun(): QmpWireLine[] {
  return [
    GREETING,
    reply({ 'downtime-limit': 300, 'max-bandwidth': 134217728 }, T0_MS - 10, 'query-migrate-parameters'),
    event('MIGRATION', { status: 'setup' }, T0_MS - 2),
    reply({ status: 'setup' }, T0_MS),
    event('MIGRATION_PASS', { pass: 1 }, T0_MS + 5),
    event('MIGRATION', { status: 'active' }, T0_MS + 5),
    reply(active(90e6, 1, 100), T0_MS + 100.25),
    reply(active(40e6, 1, 200), T0_MS + 200.5),
    event('MIGRATION_PASS', { pass: 2 }, T0_MS + 250),
    reply(active(2e6, 2, 300), T0_MS + 300.75),
    event('STOP', undefined, T0_MS + 350),
    event('MIGRATION', { status: 'completed' }, T0_MS + 380),
    reply(completed(21, 390), T0_MS + 400.125),
  ];
}

describe('WatchRecorder', () => {
  it('stores exactly the records `vfio-sla import` makes from the log it writes', () => {
    const { records, log } = record(smallRun());
    const fromLog = imported(log);
    expect(fromLog.errors).toEqual([]);
    expect(fromLog.migrations).toBe(1);
    expect(records).toEqual(fromLog.records);
    // The greeting's QEMU version first: the provenance of every record after it.
    expect(records.map((r) => r.kind)).toEqual(['stack', 'ram', 'ram', 'ram', 'transfer', 'transfer', 'outcome', 'attempt']);
    expect(records[0]).toEqual({ kind: 'stack', migrationId: 'logs/run', side: 'source', qemuVersion: '7.2.22' });
    expect(records.at(-2)).toMatchObject({ policy: 'qemu', deadlineMs: 300, actualBlackoutMs: 21, predictedBlackoutMs: 300 });
    // How it ended: QEMU's own rule, with QEMU's total time.
    expect(records.at(-1)).toEqual({ kind: 'attempt', migrationId: 'logs/run', policy: 'qemu', status: 'completed', reason: "QEMU's own rule", deadlineMs: 300, totalTimeMs: 390, predictedBlackoutMs: 300 });
  });

  it('pushes a ram record as each active poll arrives, at its Unix time', () => {
    const records: TelemetryRecord[] = [];
    const recorder = new WatchRecorder({ migrationId: 'm', source: 'qmp', sink: { push: (r) => records.push(r) } });
    const lines = smallRun();
    for (const w of lines.slice(0, 8)) recorder.onWire(w);
    expect(records).toEqual([
      { kind: 'stack', migrationId: 'm', side: 'source', qemuVersion: '7.2.22' },
      expect.objectContaining({ kind: 'ram', atMs: expect.closeTo(T0_MS + 100.25, 3) as number, pass: 1, remainingBytes: 90e6, dirtyBytesPerS: 5000 * 4096, bandwidthBytesPerS: (1073.7 * 1e6) / 8 }),
      expect.objectContaining({ kind: 'ram', atMs: expect.closeTo(T0_MS + 200.5, 3) as number, remainingBytes: 40e6 }),
    ]);
    expect(recorder.phase).toBe('recording');
  });

  it('leaves out empty replies and the final status of an earlier migration, in the records and in the log', () => {
    const stale = [reply({}, T0_MS - 300), reply(completed(55, 9000), T0_MS - 200), reply({}, T0_MS - 100)];
    const run = smallRun();
    const { records, log, recorder } = record([...run.slice(0, 2), ...stale, ...run.slice(2)]);
    expect(log.some((l) => l.includes('"downtime":55') || l.includes('"downtime": 55'))).toBe(false);
    expect(records).toEqual(record(run).records);
    expect(imported(log).records).toEqual(records);
    expect(recorder.migration().polls[0]?.status).toBe('setup');
  });

  it('skips a completed reply without statistics (QEMU 7.2 race) and records the one with them', () => {
    const run = smallRun();
    const racy = reply({ status: 'completed', 'total-time': 0, downtime: 0, ram: { total: 1, transferred: 0, remaining: 0 } }, T0_MS + 390);
    const { records, log } = record([...run.slice(0, -1), racy, run.at(-1)!]);
    expect(records.find((r) => r.kind === 'outcome')).toMatchObject({ actualBlackoutMs: 21 });
    expect(records.filter((r) => r.kind === 'transfer')).toEqual([
      expect.objectContaining({ phase: 'precopy', durationMs: 390 - 21 }),
      expect.objectContaining({ phase: 'stopcopy', bytes: 4e6, durationMs: 21 }),
    ]);
    expect(imported(log).records).toEqual(records);
  });

  it('takes the last downtime-limit read before the end as the deadline, as the importer does', () => {
    const run = smallRun();
    const raised = reply({ 'downtime-limit': 60_000 }, T0_MS + 310, 'query-migrate-parameters');
    const { records, log } = record([...run.slice(0, 9), raised, ...run.slice(9)]);
    expect(records.at(-2)).toMatchObject({ kind: 'outcome', deadlineMs: 60_000, met: true });
    expect(records.at(-1)).toMatchObject({ kind: 'attempt', deadlineMs: 60_000 });
    expect(imported(log).records).toEqual(records);
  });

  it("replaces the importer's outcome and attempt with the ones given, and keeps the transfers", () => {
    const ours: OutcomeRecord = { kind: 'outcome', migrationId: 'logs/run', policy: 'governor', deadlineMs: 2000, decidedAtMs: 300.75, predictedBlackoutMs: 900, actualBlackoutMs: 21, met: true };
    const ourAttempt: AttemptRecord = { kind: 'attempt', migrationId: 'logs/run', policy: 'governor', status: 'completed', reason: 'FITS', deadlineMs: 2000, totalTimeMs: 390, predictedBlackoutMs: 900 };
    const plain = record(smallRun()).records;
    expect(record(smallRun(), ours).records).toEqual([...plain.slice(0, -2), ours, plain.at(-1)]);
    const steered = record(smallRun(), ours, ourAttempt);
    expect(steered.records).toEqual([...plain.slice(0, -2), ours, ourAttempt]);
    // They go into the log as its governor annotation: an import of the log makes them too.
    expect(steered.log.at(-1)).toBe(JSON.stringify({ 'vfio-sla': 'governor', outcome: { policy: 'governor', deadlineMs: 2000, decidedAtMs: 300.75, predictedBlackoutMs: 900, actualBlackoutMs: 21, met: true }, attempt: { policy: 'governor', status: 'completed', reason: 'FITS', deadlineMs: 2000, totalTimeMs: 390, predictedBlackoutMs: 900 } }));
    expect(imported(steered.log).records).toEqual(steered.records);
    // With no end in the log, the attempt given is the only one.
    const cut = record(smallRun().slice(0, 9), undefined, { ...ourAttempt, status: 'aborted' });
    expect(cut.records.at(-1)).toEqual({ ...ourAttempt, status: 'aborted' });
    expect(imported(cut.log).records).toEqual(cut.records);
  });

  it('records a failed or cancelled migration as an attempt with how it ended, as the importer does', () => {
    const run = smallRun().slice(0, 9);
    const failed = record([...run, reply({ status: 'failed', 'total-time': 320, 'error-desc': 'Unable to write to socket: Broken pipe' }, T0_MS + 320)]);
    expect(failed.records.at(-1)).toEqual({ kind: 'attempt', migrationId: 'logs/run', policy: 'qemu', status: 'failed', reason: 'failed in QEMU: Unable to write to socket: Broken pipe', deadlineMs: 300, totalTimeMs: 320, predictedBlackoutMs: 300 });
    expect(imported(failed.log).records).toEqual(failed.records);
    const cancelled = record([...run, event('MIGRATION', { status: 'cancelled' }, T0_MS + 330)]);
    expect(cancelled.records.at(-1)).toMatchObject({ kind: 'attempt', status: 'cancelled', reason: 'cancelled by another QMP client or QEMU', totalTimeMs: 200.5 });
    expect(imported(cancelled.log).records).toEqual(cancelled.records);
  });

  it('records only the ram polls of a migration that never completed', () => {
    const { records, log } = record(smallRun().slice(0, 9));
    expect(records.map((r) => r.kind)).toEqual(['stack', 'ram', 'ram']);
    expect(imported(log).records).toEqual(records);
  });

  it('refuses a query-migrate reply that QEMU could not have sent, as a protocol error naming the field', () => {
    const recorder = new WatchRecorder({ migrationId: 'm', source: 'unix:/run/vm1.qmp', sink: { push: () => undefined } });
    const bad = reply({ status: 'active', ram: { total: 1, transferred: 'lots', remaining: 0 } }, T0_MS);
    expect(() => recorder.onWire(bad)).toThrow(expect.objectContaining({ code: 'EPROTO', message: expect.stringContaining('ram.transferred is not a finite number') }));
  });

  it.skipIf(!HAVE_DATASET)('agrees with the importer on every poll of real QEMU runs from the dataset', () => {
    for (const file of ['Precopy_Convergent/mig-stats-run-1.json', 'Autoconverge_16T/mig-stats-run-2.json', 'Postcopy_4T/mig-stats-run-1.json']) {
      const polls = JSON.parse(readFileSync(join(DATASET_DIR, 'raw', file), 'utf8')) as { t_monotonic: number; query_migrate: unknown }[];
      const lines = [GREETING, ...polls.map((p) => reply(p.query_migrate, T0_MS + p.t_monotonic * 1000))];
      const { records, log } = record(lines);
      expect(records.filter((r) => r.kind === 'ram').length, file).toBeGreaterThan(0);
      expect(records.some((r) => r.kind === 'outcome'), file).toBe(true);
      expect(records, file).toEqual(imported(log).records);
    }
  });
});
