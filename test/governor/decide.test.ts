import { describe, expect, it } from 'vitest';
import { compileModel, predictBlackout } from '../../src/estimators/predict.js';
import { projectPrecopy } from '../../src/estimators/precopy.js';
import { MigFlags, MigState } from '../../src/fsm/index.js';
import { FAILED_SIZE_QUERY_BYTES, GovernorError, REASON_ACTIONS, decide, type VmSnapshot } from '../../src/governor/index.js';
import { boundAtRam } from '../../src/governor/ram-target.js';
import type { SizedDevice } from '../../src/governor/snapshot-devices.js';
import { GiB, MiB, mlx5, simTruthModel, vm } from './fixtures.js';

const model = compileModel(simTruthModel());
const ALPHA = 0.05;

/** The bound `predictBlackout` gives the snapshot as it is. */
function boundOf(s: VmSnapshot): number {
  return predictBlackout(model, { devices: s.devices as readonly SizedDevice[], ramRemainingBytes: s.ramRemainingBytes, ramDirtyBytesPerS: s.ramDirtyBytesPerS }, ALPHA).boundMs;
}

function ramQuery(s: VmSnapshot): { devices: readonly SizedDevice[]; ramDirtyBytesPerS: number; link: string; serial: boolean } {
  return { devices: s.devices as readonly SizedDevice[], ramDirtyBytesPerS: s.ramDirtyBytesPerS, link: 'default', serial: false };
}

describe('decide: commit', () => {
  it('commits when the 1 − α bound fits the deadline and initial bytes are drained', () => {
    const s = vm([mlx5('a'), mlx5('b')]);
    const bound = boundOf(s);
    const d = decide(s, model, { deadlineMs: bound + 1, alpha: ALPHA, budgetMs: 60_000 });
    expect(d).toMatchObject({ action: 'commit', reason: 'FITS', predictedBlackoutMs: bound, deadlineMs: bound + 1 });
    expect(d.medianBlackoutMs).toBeLessThan(d.predictedBlackoutMs);
    // Per-device, per-arc breakdown: both devices' arcs into STOP_COPY are there.
    const arcs = d.breakdown.filter((p) => p.kind === 'arc').map((p) => `${p.deviceId}:${p.arc}`);
    expect(arcs).toEqual(['a:PRE_COPY>PRE_COPY_P2P', 'a:PRE_COPY_P2P>STOP_COPY', 'b:PRE_COPY>PRE_COPY_P2P', 'b:PRE_COPY_P2P>STOP_COPY']);
  });

  it('does not commit when the bound exceeds the deadline by a hair', () => {
    const s = vm([mlx5('a')]);
    const d = decide(s, model, { deadlineMs: boundOf(s) - 0.001, alpha: ALPHA, budgetMs: 60_000 });
    expect(d.action).not.toBe('commit');
  });

  it('waits for PRE_COPY initial bytes when the budget can drain them', () => {
    const s = vm([mlx5('a', { initialBytes: 50 * MiB })]);
    const d = decide(s, model, { deadlineMs: boundOf(s) + 1, alpha: ALPHA, budgetMs: 60_000 });
    expect(d).toMatchObject({ action: 'wait', reason: 'INITIAL_BYTES_PENDING' });
    // 50 MiB at 1 GiB/s.
    expect(d.waitMs).toBeCloseTo((50 / 1024) * 1000, 6);
  });

  it('commits with initial bytes pending when the budget cannot drain them', () => {
    const s = vm([mlx5('a', { initialBytes: 50 * MiB })], { elapsedMs: 59_990 });
    const d = decide(s, model, { deadlineMs: boundOf(s) + 1, alpha: ALPHA, budgetMs: 60_000 });
    expect(d).toMatchObject({ action: 'commit', reason: 'FITS_INITIAL_UNDRAINED' });
  });

  it('ignores initial bytes of devices not in a PRE_COPY state', () => {
    const s = vm([mlx5('a', { state: MigState.RUNNING, initialBytes: 50 * MiB })]);
    const d = decide(s, model, { deadlineMs: boundOf(s) + 1, alpha: ALPHA, budgetMs: 60_000 });
    expect(d.reason).toBe('FITS');
  });
});

describe('decide: wait and throttle', () => {
  it('waits while pre-copy converges, with the largest RAM that fits as the target', () => {
    const s = vm([mlx5('a')], { ramRemainingBytes: 4 * GiB });
    const deadlineMs = boundOf({ ...s, ramRemainingBytes: 0 }) + 100;
    const d = decide(s, model, { deadlineMs, alpha: ALPHA, budgetMs: 600_000 });
    expect(d).toMatchObject({ action: 'wait', reason: 'CONVERGING' });
    const target = d.targetRamBytes!;
    expect(target).toBeGreaterThan(0);
    expect(target).toBeLessThan(4 * GiB);
    const q = ramQuery(s);
    expect(boundAtRam(model, q, ALPHA, target)).toBeLessThanOrEqual(deadlineMs);
    expect(boundAtRam(model, q, ALPHA, target + MiB)).toBeGreaterThan(deadlineMs);
    const projection = projectPrecopy({ remainingBytes: 4 * GiB, dirtyBytesPerS: 256 * MiB, bandwidthBytesPerS: GiB }, target);
    expect(d.waitMs).toBeCloseTo(projection.timeMs, 6);
  });

  it('throttles when pre-copy does not converge (ρ ≥ 1), with a dirty rate that makes it fit', () => {
    const s = vm([mlx5('a')], { ramRemainingBytes: 4 * GiB, ramDirtyBytesPerS: 2 * GiB });
    const deadlineMs = boundOf({ ...s, ramRemainingBytes: 0 }) + 100;
    const d = decide(s, model, { deadlineMs, alpha: ALPHA, budgetMs: 600_000 });
    expect(d).toMatchObject({ action: 'throttle', reason: 'NOT_CONVERGING', rho: 2 });
    const t = d.throttle!;
    expect(t.currentDirtyBytesPerS).toBe(2 * GiB);
    expect(t.maxDirtyBytesPerS).toBeGreaterThan(0);
    expect(t.maxDirtyBytesPerS).toBeLessThan(GiB);
    expect(t.throttleFraction).toBeCloseTo(1 - t.maxDirtyBytesPerS / (2 * GiB), 12);
    const budgetLeftMs = 600_000 - s.elapsedMs;
    const at = projectPrecopy({ remainingBytes: 4 * GiB, dirtyBytesPerS: t.maxDirtyBytesPerS, bandwidthBytesPerS: GiB }, d.targetRamBytes!, { maxTimeMs: budgetLeftMs });
    expect(at.reachesTarget).toBe(true);
  });

  it('throttles when pre-copy converges too slowly for the budget', () => {
    const s = vm([mlx5('a')], { ramRemainingBytes: 4 * GiB, ramDirtyBytesPerS: 0.95 * GiB });
    const deadlineMs = boundOf({ ...s, ramRemainingBytes: 0 }) + 100;
    const d = decide(s, model, { deadlineMs, alpha: ALPHA, budgetMs: 40_000 });
    expect(d).toMatchObject({ action: 'throttle', reason: 'CONVERGING_TOO_SLOWLY' });
    expect(d.throttle!.maxDirtyBytesPerS).toBeLessThan(0.95 * GiB);
  });

  it('throttles instead of waiting when pre-copy has plateaued above the target (ρ < 1), to a rate at which the plateau fits', () => {
    // ρ = 0.997: the round-by-round projection reaches any target in time, a plateau never does
    // (fleet seed 4, vm-0001 waited out a 10,350 s budget at 78 MB pass after pass).
    const s = vm([mlx5('a')], { ramRemainingBytes: 80 * MiB, ramDirtyBytesPerS: 0.997 * GiB });
    const deadlineMs = boundOf({ ...s, ramRemainingBytes: 20 * MiB });
    const slo = { deadlineMs, alpha: ALPHA, budgetMs: 10_000_000 };
    expect(decide(s, model, slo)).toMatchObject({ action: 'wait', reason: 'CONVERGING' });
    const level = [80, 79, 78, 79, 80, 78].map((m) => m * MiB);
    const d = decide({ ...s, ramPassStartBytes: level }, model, slo);
    expect(d).toMatchObject({ action: 'throttle', reason: 'NOT_CONVERGING', precopyPlateauBytes: 78 * MiB });
    // The advised rate brings the plateau (∝ the dirty rate) under the target at that rate.
    const t = d.throttle!;
    expect(t.maxDirtyBytesPerS).toBeGreaterThan(0);
    expect((78 * MiB * t.maxDirtyBytesPerS) / (0.997 * GiB)).toBeLessThanOrEqual(d.targetRamBytes!);
    // Passes at a level below the target do not stop the wait.
    expect(decide({ ...s, ramPassStartBytes: level.map((b) => b / 8) }, model, slo)).toMatchObject({ action: 'wait', reason: 'CONVERGING' });
  });

  it('waits for device pre-copy data when only a drained device fits', () => {
    const big = mlx5('a', { stopCopyBytes: 300 * MiB, dirtyBytes: 200 * MiB });
    const drained = vm([mlx5('a', { stopCopyBytes: 100 * MiB, dirtyBytes: 0 })], { ramRemainingBytes: 0 });
    const s = vm([big], { ramRemainingBytes: 0 });
    const deadlineMs = boundOf(drained) + 5;
    expect(boundOf(s)).toBeGreaterThan(deadlineMs);
    const d = decide(s, model, { deadlineMs, alpha: ALPHA, budgetMs: 600_000 });
    expect(d).toMatchObject({ action: 'wait', reason: 'DEVICE_PRECOPY_PENDING' });
  });

  it('treats a NaN PRECOPY_INFO dirty_bytes as unknown, not as a reason to abort', () => {
    const drained = vm([mlx5('a', { stopCopyBytes: 100 * MiB, dirtyBytes: 0 })], { ramRemainingBytes: 0 });
    const deadlineMs = boundOf(drained) + 5;
    const withNegative = vm([mlx5('a', { stopCopyBytes: 300 * MiB, initialBytes: 200 * MiB, dirtyBytes: -5 })], { ramRemainingBytes: 0 });
    const withNaN = vm([mlx5('a', { stopCopyBytes: 300 * MiB, initialBytes: 200 * MiB, dirtyBytes: Number.NaN })], { ramRemainingBytes: 0 });
    const slo = { deadlineMs, alpha: ALPHA, budgetMs: 600_000 };
    const expected = decide(withNegative, model, slo);
    expect(expected).toMatchObject({ action: 'wait', reason: 'DEVICE_PRECOPY_PENDING', targetRamBytes: 0 });
    const d = decide(withNaN, model, slo);
    expect(d).toMatchObject({ action: 'wait', reason: 'DEVICE_PRECOPY_PENDING', targetRamBytes: 0 });
    expect(d.waitMs).toBe(expected.waitMs);
  });

  it('never commits when a size query failed, however generous the deadline', () => {
    const s = vm([mlx5('a'), mlx5('b', { stopCopyBytes: null })]);
    const d = decide(s, model, { deadlineMs: 1e9, alpha: ALPHA, budgetMs: 600_000 });
    expect(d).toMatchObject({ action: 'wait', reason: 'SIZE_QUERY_FAILED', reasonDeviceIds: ['b'] });
    // The breakdown shows what QEMU's 100 GiB assumption would cost.
    const withAssumed = vm([mlx5('a'), mlx5('b', { stopCopyBytes: FAILED_SIZE_QUERY_BYTES })]);
    expect(d.predictedBlackoutMs).toBe(boundOf(withAssumed));
  });
});

describe('decide: abort', () => {
  it('aborts when the budget is spent', () => {
    const d = decide(vm([mlx5('a')], { elapsedMs: 60_000 }), model, { deadlineMs: 1e9, alpha: ALPHA, budgetMs: 60_000 });
    expect(d).toMatchObject({ action: 'abort', reason: 'BUDGET_SPENT', budgetLeftMs: 0 });
    expect(d.predictedBlackoutMs).toBeNaN();
  });

  it('aborts on a device in ERROR and names it (it needs VFIO_DEVICE_RESET)', () => {
    const d = decide(vm([mlx5('a'), mlx5('b', { state: MigState.ERROR })]), model, { deadlineMs: 1e9, alpha: ALPHA, budgetMs: 60_000 });
    expect(d).toMatchObject({ action: 'abort', reason: 'DEVICE_ERROR', reasonDeviceIds: ['b'] });
  });

  it.each([
    ['RESUMING (a destination)', { state: MigState.RESUMING }],
    ['PRE_COPY without the PRE_COPY flag', { flags: MigFlags.STOP_COPY | MigFlags.P2P }],
    ['a number that is no state', { state: 9 as MigState }],
  ])('aborts on a device in an unknown state: %s', (_name, over) => {
    const d = decide(vm([mlx5('a', over)]), model, { deadlineMs: 1e9, alpha: ALPHA, budgetMs: 60_000 });
    expect(d).toMatchObject({ action: 'abort', reason: 'DEVICE_STATE_UNKNOWN', reasonDeviceIds: ['a'] });
  });

  it('aborts on a device model the model does not know, however generous the deadline', () => {
    const d = decide(vm([mlx5('a', { model: 'gpu-x' })]), model, { deadlineMs: 1e9, alpha: ALPHA, budgetMs: 60_000 });
    expect(d).toMatchObject({ action: 'abort', reason: 'MODEL_MISSING' });
    expect(d.missing).toContain('gpu-x');
  });

  it('aborts when even an empty RAM and drained devices would not fit', () => {
    const d = decide(vm([mlx5('a')]), model, { deadlineMs: 10, alpha: ALPHA, budgetMs: 60_000 });
    expect(d).toMatchObject({ action: 'abort', reason: 'DEADLINE_UNREACHABLE' });
  });

  it('aborts when not even a paused guest could send enough in the budget left', () => {
    const s = vm([mlx5('a')], { ramRemainingBytes: 64 * GiB });
    const deadlineMs = boundOf({ ...s, ramRemainingBytes: 0 }) + 100;
    // 64 GiB at 1 GiB/s takes 64 s; 20 s are left.
    const d = decide(s, model, { deadlineMs, alpha: ALPHA, budgetMs: 30_000 });
    expect(d).toMatchObject({ action: 'abort', reason: 'BUDGET_INSUFFICIENT' });
  });
});

describe('decide: inputs', () => {
  it.each([
    [{ deadlineMs: 0, alpha: 0.05, budgetMs: 1 }],
    [{ deadlineMs: 300, alpha: 0, budgetMs: 1 }],
    [{ deadlineMs: 300, alpha: 1, budgetMs: 1 }],
    [{ deadlineMs: 300, alpha: 0.05, budgetMs: -1 }],
    [{ deadlineMs: Number.NaN, alpha: 0.05, budgetMs: 1 }],
  ])('rejects an SLO that cannot be met by anything: %o', (slo) => {
    expect(() => decide(vm([mlx5('a')]), model, slo)).toThrow(expect.objectContaining({ code: 'E_BAD_SLO' }));
  });

  it('rejects a snapshot with a negative or non-finite RAM figure', () => {
    for (const over of [{ ramRemainingBytes: -1 }, { ramDirtyBytesPerS: Number.NaN }, { precopyBandwidthBytesPerS: Infinity }, { elapsedMs: -5 }]) {
      expect(() => decide(vm([mlx5('a')], over), model, { deadlineMs: 300, alpha: 0.05, budgetMs: 1e6 })).toThrow(GovernorError);
    }
  });

  it('maps every reason to exactly one action', () => {
    expect(Object.keys(REASON_ACTIONS)).toHaveLength(17);
    expect(new Set(Object.values(REASON_ACTIONS))).toEqual(new Set(['commit', 'wait', 'throttle', 'abort']));
  });
});
