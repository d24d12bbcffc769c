import { describe, expect, it } from 'vitest';
import { compileModel, predictBlackout } from '../../src/estimators/predict.js';
import { MigFlags, MigState, nextState, parseStateName } from '../../src/fsm/index.js';
import { DeadlineSetState, GovernorError, type DeadlineSetStateOptions } from '../../src/governor/index.js';
import { VirtualClock } from '../../src/sim/clock.js';
import { SimDevice, type SimArcEvent } from '../../src/sim/sim-device.js';
import type { ArcRecord, TelemetryRecord } from '../../src/records/records.js';
import { MiB, arraySink, calibratedSimModel } from './fixtures.js';

const { RUNNING, STOP, STOP_COPY, PRE_COPY, PRE_COPY_P2P, ERROR } = MigState;
const model = calibratedSimModel();
const compiled = compileModel(model);

/** A VM of noise-free simulated devices on a fresh virtual clock, recording into an array. */
function rig(n: number, profile: 'mlx5-cx7' | 'generic-nic' = 'mlx5-cx7', over: Partial<DeadlineSetStateOptions> = {}) {
  const clock = new VirtualClock();
  const sink = arraySink();
  const events: SimArcEvent[] = [];
  const devices = Array.from({ length: n }, (_, i) => {
    const d = new SimDevice({ id: `d${i}`, profile, clock, rng: 100 + i, stateBytes: 100 * MiB, latencyNoise: false });
    d.arcs$.subscribe((e) => events.push(e));
    return d;
  });
  const vm = new DeadlineSetState(devices, { model, sink, clock, migrationId: 'm1', ...over });
  return { clock, sink, events, devices, vm };
}

/** Bare devices to PRE_COPY with their initial data read, as after a pre-copy phase. */
async function toDrainedPrecopy(devices: readonly SimDevice[]): Promise<void> {
  for (const d of devices) {
    await d.setState(PRE_COPY);
    d.readData(1 << 30);
  }
}

const arcsOf = (records: readonly TelemetryRecord[]): ArcRecord[] => records.filter((r): r is ArcRecord => r.kind === 'arc');
const keysOf = (records: readonly TelemetryRecord[]): string[] => arcsOf(records).map((a) => `${a.deviceId}:${a.from}>${a.to}`);
/** Recorded arcs of one device, in order (devices in parallel interleave by completion time). */
const keysOfDevice = (records: readonly TelemetryRecord[], id: string): string[] =>
  arcsOf(records).filter((a) => a.deviceId === id).map((a) => `${a.from}>${a.to}`);

/** The bound the governor will compute for these devices with no RAM left. */
function boundFor(devices: readonly SimDevice[]): number {
  const q = devices.map((d) => ({ id: d.id, model: d.model, state: d.getState(), flags: d.flags, stopCopyBytes: d.trueStopCopyBytes() }));
  return predictBlackout(compiled, { devices: q, ramRemainingBytes: 0 }, 0.05).boundMs;
}

describe('DeadlineSetState to STOP_COPY', () => {
  it('commits and drives every device in parallel, one recorded arc per kernel arc', async () => {
    const { devices, vm, sink, events, clock } = rig(2);
    await toDrainedPrecopy(devices);
    const t0 = clock.nowMs;
    const r = await vm.setState(STOP_COPY, { deadlineMs: 600 });
    expect(r).toMatchObject({ outcome: 'REACHED', committed: true, needsReset: [], metDeadline: true });
    expect(r.decision).toMatchObject({ action: 'commit', reason: 'FITS' });
    expect(devices.map((d) => d.getState())).toEqual([STOP_COPY, STOP_COPY]);
    for (const id of ['d0', 'd1']) expect(keysOfDevice(sink.records, id)).toEqual(['PRE_COPY>PRE_COPY_P2P', 'PRE_COPY_P2P>STOP_COPY']);
    // The wrapper measured exactly what the devices took, on the same clock.
    const mine = arcsOf(sink.records);
    const truth = events.slice(-4);
    expect(mine.map((a) => [a.deviceId, a.startedAtMs])).toEqual(truth.map((e) => [e.deviceId, e.startedAtMs]));
    mine.forEach((a, i) => expect(a.latencyMs).toBeCloseTo(truth[i]!.latencyMs, 9));
    // In parallel the request lasts as long as the slower device.
    const perDevice = [0, 1].map((i) => r.devices[i]!.arcs.reduce((t, a) => t + a.latencyMs, 0));
    expect(r.elapsedMs).toBeCloseTo(Math.max(...perDevice), 9);
    expect(clock.nowMs - t0).toBeCloseTo(r.elapsedMs, 9);
    expect(arcsOf(sink.records).every((a) => a.ok && a.deadlineMs === 600 && a.migrationId === 'm1')).toBe(true);
    // What was known at the decision is recorded too.
    expect(sink.records.filter((x) => x.kind === 'size').map((x) => x.deviceId)).toEqual(['d0', 'd1']);
  });

  it('steps devices one after another when asked to, phase by phase: all quiesced before any stops', async () => {
    const { devices, vm, sink } = rig(2, 'mlx5-cx7', { serial: true });
    await toDrainedPrecopy(devices);
    const r = await vm.setState(STOP_COPY, { deadlineMs: 900 });
    expect(r.outcome).toBe('REACHED');
    const arcs = arcsOf(sink.records);
    expect(keysOf(sink.records)).toEqual(['d0:PRE_COPY>PRE_COPY_P2P', 'd1:PRE_COPY>PRE_COPY_P2P', 'd0:PRE_COPY_P2P>STOP_COPY', 'd1:PRE_COPY_P2P>STOP_COPY']);
    expect(arcs[2]!.startedAtMs).toBeCloseTo(arcs[1]!.startedAtMs + arcs[1]!.latencyMs, 9);
    expect(r.elapsedMs).toBeCloseTo(arcs.reduce((t, a) => t + a.latencyMs, 0), 9);
  });

  it('steps a multi-arc path arc by arc: RUNNING > RUNNING_P2P > STOP > STOP_COPY', async () => {
    const { vm, sink } = rig(1);
    const r = await vm.setState(STOP_COPY, { deadlineMs: 600 });
    expect(r.committed).toBe(true);
    expect(keysOf(sink.records)).toEqual(['d0:RUNNING>RUNNING_P2P', 'd0:RUNNING_P2P>STOP', 'd0:STOP>STOP_COPY']);
    for (const a of arcsOf(sink.records)) {
      // Each recorded arc is one step of the kernel's table towards STOP_COPY.
      expect(nextState(parseStateName(a.from)!, STOP_COPY, MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY)).toBe(parseStateName(a.to));
    }
  });

  it('does not commit when the bound exceeds the deadline, and touches no device', async () => {
    const { devices, vm, sink } = rig(2);
    await toDrainedPrecopy(devices);
    const r = await vm.setState(STOP_COPY, { deadlineMs: 100 });
    expect(r).toMatchObject({ outcome: 'NOT_COMMITTED', committed: false, needsReset: [] });
    expect(r.decision!.action).not.toBe('commit');
    expect(r.decision!.predictedBlackoutMs).toBeGreaterThan(100);
    expect(arcsOf(sink.records)).toEqual([]);
    expect(devices.map((d) => d.getState())).toEqual([PRE_COPY, PRE_COPY]);
  });

  it('does not commit when a size query fails, whatever the deadline', async () => {
    const { devices, vm, sink } = rig(2);
    await toDrainedPrecopy(devices);
    devices[1]!.injectFault({ kind: 'size-query', errno: 'ENOTTY' });
    const r = await vm.setState(STOP_COPY, { deadlineMs: 1e7 });
    expect(r.outcome).toBe('NOT_COMMITTED');
    expect(r.decision).toMatchObject({ action: 'wait', reason: 'SIZE_QUERY_FAILED', reasonDeviceIds: ['d1'] });
    expect(arcsOf(sink.records)).toEqual([]);
  });

  it('waits for PRE_COPY initial bytes when RAM figures say pre-copy can drain them', async () => {
    const { devices, vm } = rig(1);
    await devices[0]!.setState(PRE_COPY);
    const ram = { remainingBytes: 0, dirtyBytesPerS: 0, bandwidthBytesPerS: 1e9 };
    const r = await vm.setState(STOP_COPY, { deadlineMs: 1e6, ram, budgetMs: 60_000 });
    expect(r.decision).toMatchObject({ action: 'wait', reason: 'INITIAL_BYTES_PENDING' });
    expect(devices[0]!.getState()).toBe(PRE_COPY);
  });

  it('unwinds every device when an arc fails, and names the device whose pre-copy session is lost', async () => {
    const { devices, vm, sink } = rig(2);
    await toDrainedPrecopy(devices);
    devices[1]!.injectFault({ kind: 'arc-fail', arc: 'PRE_COPY_P2P>STOP_COPY', errno: 'EIO', after: 'along-path' });
    const r = await vm.setState(STOP_COPY, { deadlineMs: 600 });
    expect(r).toMatchObject({ outcome: 'UNWOUND_PRECOPY_LOST', committed: false, needsReset: [], precopyLost: ['d0'] });
    // d0 had reached STOP_COPY (no way back to PRE_COPY from there); d1 was still pre-copying.
    expect(devices.map((d) => d.getState())).toEqual([RUNNING, PRE_COPY]);
    expect(r.devices[1]!.failure).toMatchObject({ code: 'EIO', stateAfter: PRE_COPY_P2P });
    expect(keysOfDevice(sink.records, 'd0')).toEqual(['PRE_COPY>PRE_COPY_P2P', 'PRE_COPY_P2P>STOP_COPY', 'STOP_COPY>STOP', 'STOP>RUNNING_P2P', 'RUNNING_P2P>RUNNING']);
    expect(keysOfDevice(sink.records, 'd1')).toEqual(['PRE_COPY>PRE_COPY_P2P', 'PRE_COPY_P2P>STOP_COPY', 'PRE_COPY_P2P>PRE_COPY']);
    expect(arcsOf(sink.records).filter((a) => !a.ok)).toMatchObject([{ deviceId: 'd1', from: 'PRE_COPY_P2P', to: 'STOP_COPY', errno: 'EIO' }]);
    expect(r.devices[0]!.arcs.map((a) => a.phase)).toEqual(['forward', 'forward', 'unwind', 'unwind', 'unwind']);
    expect(r.message).toContain('d1: EIO');
    expect(r.message).toContain('d0 lost the pre-copy session');
  });

  it('keeps every pre-copy session when an arc fails before any device reached STOP_COPY', async () => {
    const { devices, vm } = rig(2);
    await toDrainedPrecopy(devices);
    devices[1]!.injectFault({ kind: 'arc-fail', arc: 'PRE_COPY>PRE_COPY_P2P', errno: 'EIO', after: 'original' });
    let resumed = 0;
    const r = await vm.setState(STOP_COPY, { deadlineMs: 600, onResume: () => void resumed++ });
    expect(r).toMatchObject({ outcome: 'UNWOUND_ARC_FAILED', committed: false, needsReset: [], precopyLost: [] });
    // d0 had reached PRE_COPY_P2P: the FSM allows PRE_COPY_P2P → PRE_COPY, so its session survives.
    expect(devices.map((d) => d.getState())).toEqual([PRE_COPY, PRE_COPY]);
    expect(r.devices[0]!.arcs.map((a) => `${a.from}>${a.to}`)).toEqual([`${PRE_COPY}>${PRE_COPY_P2P}`, `${PRE_COPY_P2P}>${PRE_COPY}`]);
    expect(resumed).toBe(1);
  });

  it('names a device left in ERROR as needing VFIO_DEVICE_RESET and brings the others back', async () => {
    const { devices, vm } = rig(2);
    await toDrainedPrecopy(devices);
    devices[0]!.injectFault({ kind: 'arc-fail', arc: 'PRE_COPY_P2P>STOP_COPY', errno: 'ETIMEDOUT', after: 'error' });
    let resumed = 0;
    const r = await vm.setState(STOP_COPY, { deadlineMs: 600, onResume: () => void resumed++ });
    // d1 had reached STOP_COPY in the same phase: back in RUNNING, its session is gone too.
    expect(r).toMatchObject({ outcome: 'UNWOUND_PRECOPY_LOST', committed: false, needsReset: ['d0'], precopyLost: ['d0', 'd1'] });
    // The caller resets d0 first, then resumes the vCPUs.
    expect(resumed).toBe(0);
    expect(devices.map((d) => d.getState())).toEqual([ERROR, RUNNING]);
    expect(r.devices[0]).toMatchObject({ finalState: ERROR, needsReset: true });
    expect(r.message).toContain('d0 need VFIO_DEVICE_RESET');
    await devices[0]!.reset();
    expect(devices[0]!.getState()).toBe(RUNNING);
  });

  it('turns back before the point of no return when an arc overruns so that only going back meets the deadline', async () => {
    const { devices, vm, sink } = rig(1);
    await toDrainedPrecopy(devices);
    const deadlineMs = Math.ceil(boundFor(devices) * 1.2);
    // PRE_COPY>PRE_COPY_P2P takes 10 ms; make it end 40 ms before the deadline.
    devices[0]!.injectFault({ kind: 'overrun', arc: 'PRE_COPY>PRE_COPY_P2P', multiplier: (deadlineMs - 40) / 10 });
    const r = await vm.setState(STOP_COPY, { deadlineMs });
    expect(r).toMatchObject({ outcome: 'UNWOUND_OVERRUN', committed: false, metDeadline: true, needsReset: [] });
    // The unabortable arc into STOP_COPY was never issued.
    expect(keysOf(sink.records)).toEqual(['d0:PRE_COPY>PRE_COPY_P2P', 'd0:PRE_COPY_P2P>PRE_COPY']);
    expect(devices[0]!.getState()).toBe(PRE_COPY);
    expect(r.elapsedMs).toBeCloseTo(deadlineMs - 40 + 5, 9);
  });

  it('does not count the vCPU stop twice: onCommit spent it, the reserve after the arcs does not hold it again', async () => {
    const tight = compileModel(calibratedSimModel(0.01));
    const clock = new VirtualClock();
    const d = new SimDevice({ id: 'd0', profile: 'mlx5-cx7', clock, rng: 100, stateBytes: 100 * MiB, latencyNoise: false });
    await toDrainedPrecopy([d]);
    const q = [{ id: d.id, model: d.model, state: d.getState(), flags: d.flags, stopCopyBytes: d.trueStopCopyBytes() }];
    const p = predictBlackout(tight, { devices: q, ramRemainingBytes: 0 }, 0.05);
    const vcpuStopMs = p.parts.find((x) => x.kind === 'vcpu-stop')!.medianMs;
    // Fits the bound, and the median with the vCPU stop once, but not with it twice.
    const deadlineMs = p.boundMs + 1;
    expect(deadlineMs).toBeLessThan(p.medianMs + vcpuStopMs);
    const vm = new DeadlineSetState([d], { model: tight, sink: arraySink(), clock, migrationId: 'm' });
    const r = await vm.setState(STOP_COPY, { deadlineMs, onCommit: () => clock.sleep(vcpuStopMs) });
    expect(r).toMatchObject({ outcome: 'REACHED', committed: true, metDeadline: true });
  });

  it('says the deadline was missed when the arcs end in time but the blackout still to come does not', async () => {
    const first = rig(1);
    await toDrainedPrecopy(first.devices);
    const deadlineMs = Math.ceil(boundFor(first.devices) * 1.2);
    const plain = await first.vm.setState(STOP_COPY, { deadlineMs });
    const [toP2p, toStopCopy] = plain.devices[0]!.arcs.map((a) => a.latencyMs) as [number, number];
    const { devices, vm } = rig(1);
    await toDrainedPrecopy(devices);
    // Past the point of no return: the arc into STOP_COPY ends 5 ms before the deadline.
    devices[0]!.injectFault({ kind: 'overrun', arc: 'PRE_COPY_P2P>STOP_COPY', multiplier: (deadlineMs - 5 - toP2p) / toStopCopy });
    const r = await vm.setState(STOP_COPY, { deadlineMs });
    expect(r.elapsedMs).toBeCloseTo(deadlineMs - 5, 6);
    expect(r).toMatchObject({ outcome: 'REACHED', committed: true, metDeadline: false });
  });

  it('finishes when neither finishing nor going back can meet the deadline any more', async () => {
    const { devices, vm } = rig(1);
    await toDrainedPrecopy(devices);
    const deadlineMs = Math.ceil(boundFor(devices) * 1.2);
    devices[0]!.injectFault({ kind: 'overrun', arc: 'PRE_COPY>PRE_COPY_P2P', multiplier: (deadlineMs + 50) / 10 });
    const r = await vm.setState(STOP_COPY, { deadlineMs });
    expect(r).toMatchObject({ outcome: 'REACHED', committed: true, metDeadline: false });
    expect(devices[0]!.getState()).toBe(STOP_COPY);
  });

  it('brings devices the caller left stopped back to RUNNING when it does not commit', async () => {
    const { devices, vm, sink } = rig(1);
    await devices[0]!.setState(STOP);
    const r = await vm.setState(STOP_COPY, { deadlineMs: 1 });
    expect(r).toMatchObject({ outcome: 'NOT_COMMITTED', needsReset: [] });
    expect(devices[0]!.getState()).toBe(RUNNING);
    expect(keysOf(sink.records)).toEqual(['d0:STOP>RUNNING_P2P', 'd0:RUNNING_P2P>RUNNING']);
  });
});

describe('DeadlineSetState to other targets', () => {
  it('steps and records the arcs of any other request without deciding', async () => {
    const { vm, sink } = rig(2);
    const r = await vm.setState(PRE_COPY, { deadlineMs: 1000 });
    expect(r).toMatchObject({ outcome: 'REACHED', committed: false, decision: null });
    expect(keysOf(sink.records)).toEqual(['d0:RUNNING>PRE_COPY', 'd1:RUNNING>PRE_COPY']);
  });

  it('rejects a request the kernel rejects before running any arc', async () => {
    const { devices, vm, sink } = rig(2);
    await devices[0]!.setState(STOP_COPY);
    const r = await vm.setState(PRE_COPY, { deadlineMs: 1000 });
    expect(r.outcome).toBe('FAILED');
    expect(r.devices[0]!.failure).toMatchObject({ code: 'EINVAL', stateAfter: STOP_COPY });
    expect(arcsOf(sink.records)).toEqual([]);
    expect(devices[1]!.getState()).toBe(RUNNING);
  });
});

describe('DeadlineSetState bookkeeping', () => {
  it('records the outcome of a committed switchover for the estimators', async () => {
    const { devices, vm, sink } = rig(1);
    await toDrainedPrecopy(devices);
    expect(() => vm.recordOutcome(100)).toThrow(GovernorError);
    const r = await vm.setState(STOP_COPY, { deadlineMs: 600 });
    const o = vm.recordOutcome(420);
    expect(o).toEqual({
      kind: 'outcome',
      migrationId: 'm1',
      policy: 'governor',
      deadlineMs: 600,
      decidedAtMs: expect.any(Number),
      predictedBlackoutMs: r.decision!.predictedBlackoutMs,
      actualBlackoutMs: 420,
      met: true,
    });
    expect(o.decidedAtMs).toBeLessThanOrEqual(arcsOf(sink.records)[0]!.startedAtMs);
    expect(sink.records.at(-1)).toBe(o);
  });

  it('refuses a second request while one is in flight', async () => {
    const { vm } = rig(1);
    const first = vm.setState(STOP_COPY, { deadlineMs: 600 });
    await expect(vm.setState(RUNNING, { deadlineMs: 600 })).rejects.toMatchObject({ code: 'E_BAD_REQUEST' });
    await first;
  });

  it('refuses an empty VM and duplicate device ids', () => {
    const clock = new VirtualClock();
    const options = { model, sink: arraySink(), clock, migrationId: 'm' };
    expect(() => new DeadlineSetState([], options)).toThrow(expect.objectContaining({ code: 'E_BAD_REQUEST' }));
    const d = new SimDevice({ id: 'x', profile: 'qat-vf', clock, rng: 1 });
    expect(() => new DeadlineSetState([d, d], options)).toThrow(expect.objectContaining({ code: 'E_BAD_REQUEST' }));
  });
});
