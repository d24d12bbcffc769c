/**
 * The watch loop against a scripted QEMU (watch-fake-qemu.ts) that applies QEMU's switchover rule:
 * what is recorded, when the hold is released, and how every kind of end is reported.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadModel, DEFAULT_PRIORS_FILE } from '../../../src/files/model-file.js';
import { compileModel } from '../../../src/estimators/compile.js';
import { QmpClient } from '../../../src/qemu/qmp-client.js';
import { HOLD_DOWNTIME_LIMIT_MS } from '../../../src/app/watch/drive.js';
import { ABORT_CONFIRM_POLLS, MigrationWatch, type WatchOptions } from '../../../src/app/watch/watch.js';
import type { DecisionEntry, WatchEntry, WatchResult } from '../../../src/app/watch/watch-types.js';
import type { TelemetryRecord } from '../../../src/records/records.js';
import { FakeQemu, type FakeMigrationOptions } from '../../qemu/watch-fake-qemu.js';

const MODEL = compileModel(loadModel(DEFAULT_PRIORS_FILE));
/** The priors with 200 calibration scores of 0 (bound = median): enough for a 99 % conformal bound. */
const CALIBRATED = compileModel({ ...loadModel(DEFAULT_PRIORS_FILE), calibration: { logRatioScores: new Array<number>(200).fill(0), n: 200, links: ['default'] } });
const fakes: FakeQemu[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

interface Run {
  readonly result: WatchResult;
  readonly entries: WatchEntry[];
  readonly records: TelemetryRecord[];
  readonly fq: FakeQemu;
}

interface RunOptions extends Partial<Omit<WatchOptions, 'slo'>> {
  readonly deadlineMs?: number;
  readonly alpha?: number;
  /** Start the migration before attaching (default: after the watch says it is attached). */
  readonly startFirst?: boolean;
  /** Called with the entries so far after each entry; for interventions mid-run. */
  readonly onEntry?: (entries: readonly WatchEntry[], fq: FakeQemu) => void;
}

async function watch(fake: FakeMigrationOptions, o: RunOptions = {}): Promise<Run> {
  const fq = await FakeQemu.start(fake);
  fakes.push(fq);
  if (o.startFirst === true) fq.startMigration();
  const qmp = new QmpClient({ endpoint: { path: fq.path }, commandTimeoutMs: 10_000 });
  const records: TelemetryRecord[] = [];
  const entries: WatchEntry[] = [];
  const w = new MigrationWatch({
    qmp,
    sink: { push: (r) => records.push(r) },
    migrationId: 'fake/run',
    source: 'fake.qmp',
    model: MODEL,
    slo: { deadlineMs: o.deadlineMs ?? 1500, alpha: o.alpha ?? 0.01, budgetMs: Infinity },
    drive: o.drive ?? false,
    pollIntervalMs: 5,
    ...(o.onAbort === undefined ? {} : { onAbort: o.onAbort }),
    ...(o.abortWithoutModel === undefined ? {} : { abortWithoutModel: o.abortWithoutModel }),
    ...(o.model === undefined ? {} : { model: o.model }),
    ...(o.signal === undefined ? {} : { signal: o.signal }),
  });
  w.timeline$.subscribe((e) => {
    entries.push(e);
    if (e.type === 'attach' && o.startFirst !== true) fq.startMigration();
    o.onEntry?.(entries, fq);
  });
  const result = await w.run();
  await qmp.close();
  return { result, entries, records, fq };
}

const decisions = (entries: readonly WatchEntry[]): DecisionEntry[] => entries.filter((e): e is DecisionEntry => e.type === 'decision');
const indexOf = (entries: readonly WatchEntry[], f: (e: WatchEntry) => boolean): number => entries.findIndex(f);

/** Remaining bytes falling to a floor: 100 MB, 60 MB, 30 MB, 8 MB, then `floor`. */
const converging = (floor: number) => (n: number): number => [100e6, 60e6, 30e6, 8e6][n] ?? floor;

describe('MigrationWatch, following only', () => {
  it('records the migration as the importer would and changes nothing but the events capability', async () => {
    const { result, records, fq, entries } = await watch({ remainingBytes: converging(4e6) });
    expect(result).toMatchObject({ end: 'completed', downtimeMs: 25, switchoverBy: 'qemu', records: { transfer: 2, outcome: 1 } });
    expect(records.at(-2)).toMatchObject({ kind: 'outcome', policy: 'qemu', deadlineMs: 300, actualBlackoutMs: 25 });
    // Every migration that ended leaves its attempt: QEMU's rule decided, against its own limit.
    expect(records.at(-1)).toMatchObject({ kind: 'attempt', policy: 'qemu', status: 'completed', reason: "QEMU's own rule", deadlineMs: 300 });
    expect(result.records.attempt).toBe(1);
    expect(records.filter((r) => r.kind === 'ram')).toHaveLength(result.records.ram);
    // 100 MB and 60 MB are over QEMU's 40 MB threshold (300 ms at 128 MiB/s); at 30 MB it switches.
    expect(result.records.ram).toBe(2);
    expect(fq.parameterWrites).toEqual([]);
    expect(fq.caps['events']).toBe(false); // turned on for the run, then back off
    expect(entries.find((e) => e.type === 'attach')).toMatchObject({ events: 'enabled', drive: false, throttle: null });
    expect(decisions(entries).every((d) => !d.acted)).toBe(true);
  });

  it('re-reads downtime-limit at each pass, so a limit raised by the operator becomes the deadline', async () => {
    const { records } = await watch(
      { remainingBytes: (n) => (n < 5 ? 50e6 : 35e6) },
      { onEntry: (entries, fq) => entries.at(-1)?.type === 'decision' && decisions(entries).length === 2 && (fq.params['downtime-limit'] = 350) },
    );
    expect(records.at(-2)).toMatchObject({ kind: 'outcome', policy: 'qemu', deadlineMs: 350 });
    expect(records.at(-1)).toMatchObject({ kind: 'attempt', policy: 'qemu', deadlineMs: 350 });
  });

  it('waits out completed replies without statistics and records the real downtime', async () => {
    const { result, records } = await watch({ remainingBytes: converging(4e6), racyCompleted: 3, downtimeMs: 31 });
    expect(result).toMatchObject({ end: 'completed', downtimeMs: 31 });
    expect(records.filter((r) => r.kind === 'outcome')).toEqual([expect.objectContaining({ actualBlackoutMs: 31 })]);
  });
});

describe('MigrationWatch --drive without a calibrated model', () => {
  it("observes only: no hold, nothing cancelled, QEMU's own rule switches over, and it says so", async () => {
    // 15 polls over QEMU's threshold (40 MB at 300 ms): driven, the 10 aborts would cancel it.
    const { result, entries, fq } = await watch({ remainingBytes: (n) => (n < 15 ? 50e6 : 30e6) }, { drive: true, deadlineMs: 100 });
    expect(entries.find((e) => e.type === 'attach')).toMatchObject({ drive: false });
    const note = entries.find((e) => e.type === 'note' && e.message.startsWith('--drive observes only'));
    expect(note).toMatchObject({ message: expect.stringContaining('the model has no calibration') });
    expect(decisions(entries).filter((d) => d.decision.action === 'abort').length).toBeGreaterThan(ABORT_CONFIRM_POLLS);
    expect(decisions(entries).every((d) => !d.acted)).toBe(true);
    expect(fq.srv.received.some((c) => c.execute === 'migrate_cancel')).toBe(false);
    expect(fq.parameterWrites).toEqual([]);
    expect(result).toMatchObject({ end: 'completed', switchoverBy: 'qemu' });
  });

  it('steers without --abort-without-model once the model is calibrated', async () => {
    const { result, fq } = await watch({ remainingBytes: converging(4e6) }, { drive: true, deadlineMs: 1200, model: CALIBRATED });
    expect(fq.parameterWrites[1]).toEqual({ 'downtime-limit': HOLD_DOWNTIME_LIMIT_MS });
    expect(result).toMatchObject({ end: 'completed', switchoverBy: 'governor' });
  });
});

describe('MigrationWatch --drive', () => {
  it('holds the switchover until the governor commits, then releases it before QEMU stops the guest', async () => {
    const { result, entries, records, fq } = await watch({ remainingBytes: converging(4e6) }, { drive: true, abortWithoutModel: true, deadlineMs: 1200 });
    expect(fq.parameterWrites[1]).toEqual({ 'downtime-limit': HOLD_DOWNTIME_LIMIT_MS });
    const commit = indexOf(entries, (e) => e.type === 'decision' && e.decision.action === 'commit');
    const release = indexOf(entries, (e) => e.type === 'limit' && e.action === 'release');
    const stop = indexOf(entries, (e) => e.type === 'event' && e.event === 'STOP');
    expect(commit).toBeGreaterThan(-1);
    expect(decisions(entries).slice(0, decisions(entries).findIndex((d) => d.decision.action === 'commit'))).not.toHaveLength(0);
    expect(commit).toBeLessThan(release);
    expect(release).toBeLessThan(stop);
    const committed = entries[commit] as DecisionEntry;
    expect(result).toMatchObject({ end: 'completed', switchoverBy: 'governor' });
    expect(records.at(-1)).toMatchObject({
      kind: 'attempt', policy: 'governor', status: 'completed', reason: committed.decision.reason, deadlineMs: 1200,
      predictedBlackoutMs: committed.decision.predictedBlackoutMs,
    });
    expect(records.at(-2)).toEqual({
      kind: 'outcome',
      migrationId: 'fake/run',
      policy: 'governor',
      deadlineMs: 1200,
      decidedAtMs: committed.atMs,
      predictedBlackoutMs: committed.decision.predictedBlackoutMs,
      actualBlackoutMs: 25,
      met: true,
    });
    expect(fq.params['downtime-limit']).toBe(300); // restored
  });

  it("sets and restores QEMU 8.2's avail-switchover-bandwidth with the hold", async () => {
    const { fq } = await watch({ remainingBytes: converging(4e6), availSwitchoverBandwidth: true }, { drive: true, abortWithoutModel: true, deadlineMs: 1200 });
    const writes = fq.parameterWrites;
    expect(writes).toContainEqual({ 'downtime-limit': 1, 'avail-switchover-bandwidth': 1000 });
    expect(writes).toContainEqual(expect.objectContaining({ 'avail-switchover-bandwidth': 0, 'downtime-limit': expect.any(Number) }));
    expect(fq.params).toMatchObject({ 'downtime-limit': 300, 'avail-switchover-bandwidth': 0 });
  });

  it("records QEMU's outcome and says so when QEMU switches over before a commit (the hold leaked)", async () => {
    const { result, entries, records } = await watch({ remainingBytes: (n) => (n === 0 ? 100e6 : 50_000) }, { drive: true, abortWithoutModel: true, deadlineMs: 1000 });
    expect(result).toMatchObject({ end: 'completed', switchoverBy: 'qemu' });
    expect(entries.some((e) => e.type === 'note' && e.message.includes('hold leaked'))).toBe(true);
    expect(records.at(-2)).toMatchObject({ kind: 'outcome', policy: 'qemu' });
    expect(records.at(-1)).toMatchObject({ kind: 'attempt', policy: 'qemu', status: 'completed' });
  });

  it(`cancels the migration after ${ABORT_CONFIRM_POLLS} consecutive abort decisions, and only then`, async () => {
    const { result, entries, fq, records } = await watch({ remainingBytes: () => 50e6 }, { drive: true, abortWithoutModel: true, deadlineMs: 100 });
    const ds = decisions(entries);
    const cancel = indexOf(entries, (e) => e.type === 'cancel');
    expect(ds.slice(0, ABORT_CONFIRM_POLLS).map((d) => d.decision.reason)).toEqual(new Array(ABORT_CONFIRM_POLLS).fill('DEADLINE_UNREACHABLE'));
    expect(entries.filter((e, i) => e.type === 'decision' && i < cancel)).toHaveLength(ABORT_CONFIRM_POLLS);
    expect(fq.srv.received.filter((c) => c.execute === 'migrate_cancel')).toHaveLength(1);
    expect(result).toMatchObject({ end: 'cancelled', cancelledByWatch: true, outcome: null });
    expect(result.message).toContain('cancelled by vfio-sla watch --drive: governor abort DEADLINE_UNREACHABLE');
    // A cancelled migration: its polls, the stack it ran on (asked at attach), and the abort.
    expect(records.every((r) => r.kind === 'ram' || r.kind === 'stack' || r.kind === 'attempt')).toBe(true);
    expect(records.filter((r) => r.kind === 'attempt')).toEqual([
      expect.objectContaining({ policy: 'governor', status: 'aborted', reason: expect.stringContaining('DEADLINE_UNREACHABLE'), deadlineMs: 100 }),
    ]);
    expect(records.filter((r) => r.kind === 'stack')).toEqual([expect.objectContaining({ side: 'source', qemuVersion: '7.2.0' })]);
  });

  it("with onAbort 'release' hands the switchover back to QEMU's own downtime-limit", async () => {
    const { result, fq, records } = await watch({ remainingBytes: () => 30e6 }, { drive: true, abortWithoutModel: true, deadlineMs: 100, onAbort: 'release' });
    expect(fq.srv.received.some((c) => c.execute === 'migrate_cancel')).toBe(false);
    expect(fq.parameterWrites).toContainEqual({ 'downtime-limit': 300 });
    expect(result).toMatchObject({ end: 'completed', switchoverBy: 'qemu' });
    expect(records.at(-2)).toMatchObject({ kind: 'outcome', policy: 'qemu' });
    expect(records.at(-1)).toMatchObject({ kind: 'attempt', policy: 'qemu', status: 'completed' });
  });

  it('aims auto-converge at the advised throttle under TCG, and puts everything back after', async () => {
    const { entries, fq, result } = await watch(
      { remainingBytes: () => 30e6, dirtyPagesPerS: 40_000, failAfterPolls: 6 },
      { drive: true, abortWithoutModel: true, deadlineMs: 1500 },
    );
    expect(entries.find((e) => e.type === 'attach')).toMatchObject({ throttle: 'auto-converge' });
    const advised = decisions(entries).find((d) => d.decision.action === 'throttle');
    expect(advised?.acted).toBe(true);
    const pct = Math.ceil((advised?.decision.throttle?.throttleFraction ?? NaN) * 100);
    expect(fq.parameterWrites).toContainEqual({ 'throttle-trigger-threshold': 1, 'cpu-throttle-initial': pct, 'cpu-throttle-increment': pct });
    expect(result).toMatchObject({ end: 'failed' });
    expect(result.message).toContain('Broken pipe');
    expect(fq.caps['auto-converge']).toBe(false);
    expect(fq.params).toMatchObject({ 'throttle-trigger-threshold': 50, 'cpu-throttle-initial': 20, 'cpu-throttle-increment': 10, 'downtime-limit': 300 });
  });

  it('compounds auto-converge on a guest QEMU already throttles: the target is absolute', async () => {
    const { entries, fq } = await watch(
      { remainingBytes: () => 30e6, dirtyPagesPerS: 40_000, failAfterPolls: 6, cpuThrottlePercentage: 50 },
      { drive: true, abortWithoutModel: true, deadlineMs: 1500 },
    );
    const f = decisions(entries).find((d) => d.decision.action === 'throttle')?.decision.throttle?.throttleFraction ?? NaN;
    expect(f).toBeGreaterThan(0);
    // The rate was measured under 50 %: taking f more away is 1 − (1 − 0.5)(1 − f) of the CPU.
    const pct = Math.min(99, Math.ceil((1 - 0.5 * (1 - f)) * 100 - 1e-9));
    expect(pct).toBeGreaterThan(50);
    expect(fq.parameterWrites).toContainEqual({ 'throttle-trigger-threshold': 1, 'cpu-throttle-initial': pct, 'cpu-throttle-increment': pct - 50 });
  });

  it('caps every vCPU with set-vcpu-dirty-limit where KVM has a dirty ring', async () => {
    const { fq, entries } = await watch({ remainingBytes: () => 30e6, dirtyPagesPerS: 40_000, failAfterPolls: 4, kvmDirtyRing: true }, { drive: true, abortWithoutModel: true, deadlineMs: 1500 });
    const advice = decisions(entries).find((d) => d.decision.action === 'throttle')?.decision.throttle;
    const limits = fq.srv.received.filter((c) => c.execute === 'set-vcpu-dirty-limit');
    // Two vCPUs sharing the rate evenly, each held at up to quota + 25 MiB/s (QEMU's dead band).
    const quota = Math.floor((advice?.maxDirtyBytesPerS ?? NaN) / 2 / 2 ** 20 - 25);
    expect(quota).toBeGreaterThanOrEqual(1);
    expect(limits[0]?.arguments).toEqual({ 'dirty-rate': quota });
    expect(fq.srv.received.some((c) => c.execute === 'cancel-vcpu-dirty-limit')).toBe(true);
  });

  it('says once that it cannot throttle when it attached to a running migration without auto-converge', async () => {
    const { entries } = await watch({ remainingBytes: () => 30e6, dirtyPagesPerS: 40_000, failAfterPolls: 5 }, { drive: true, abortWithoutModel: true, deadlineMs: 1500, startFirst: true });
    expect(entries.find((e) => e.type === 'attach')).toMatchObject({ events: 'off', throttle: 'none', runningStatus: 'setup' });
    expect(entries.filter((e) => e.type === 'throttle')).toEqual([expect.objectContaining({ step: expect.objectContaining({ mechanism: 'none' }) })]);
  });
});

describe('MigrationWatch ends', () => {
  it('ends when the QMP socket closes mid-migration, keeping the ram records, without hanging', async () => {
    const { result, records } = await watch(
      { remainingBytes: () => 50e6 },
      {
        onEntry: (entries, fq) => {
          if (entries.at(-1)?.type === 'decision' && decisions(entries).length === 4) {
            fq.srv.event('SHUTDOWN', { guest: false, reason: 'host-signal' }, Date.now() / 1000);
            fq.srv.dropConnection();
          }
        },
      },
    );
    expect(result).toMatchObject({ end: 'qmp-closed', status: 'active', outcome: null, records: { transfer: 0, outcome: 0 } });
    expect(result.message).toMatch(/^QMP connection unix:.* closed \(QEMU exited, was killed, or dropped this client\) while the migration was active; QEMU had announced SHUTDOWN \(host-signal\)$/);
    expect(records.filter((r) => r.kind === 'ram').length).toBeGreaterThanOrEqual(4);
  });

  it('undoes the hold when stopped by a signal', async () => {
    const stop = new AbortController();
    const { result, fq } = await watch(
      { remainingBytes: () => 50e6 },
      { drive: true, abortWithoutModel: true, deadlineMs: 1200, signal: stop.signal, onEntry: (entries) => decisions(entries).length === 3 && stop.abort() },
    );
    expect(result).toMatchObject({ end: 'interrupted', status: 'active' });
    expect(fq.params['downtime-limit']).toBe(300);
    expect(fq.caps['auto-converge']).toBe(true); // QEMU refuses capability changes during a migration
  });

  it('reports a QEMU that cannot be reached', async () => {
    const qmp = new QmpClient({ endpoint: { path: '/nonexistent/qmp.sock' } });
    const w = new MigrationWatch({ qmp, sink: { push: () => undefined }, migrationId: 'x', source: 'x', model: MODEL, slo: { deadlineMs: 300, alpha: 0.01, budgetMs: Infinity }, drive: true });
    const result = await w.run();
    expect(result).toMatchObject({ end: 'qmp-closed', status: null, records: { ram: 0, transfer: 0, outcome: 0 } });
    expect(result.message).toMatch(/^QMP unix:\/nonexistent\/qmp\.sock: could not connect: .*ENOENT/);
    await qmp.close();
  });
});

