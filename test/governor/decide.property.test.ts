import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileModel, predictBlackout, type CompiledModel } from '../../src/estimators/predict.js';
import { calibrationFromScores } from '../../src/estimators/conformal.js';
import { ALL_STATES, MigFlags, MigState, VALID_FLAG_SETS } from '../../src/fsm/index.js';
import { REASON_ACTIONS, decide, type DeviceSnapshot, type Slo, type VmSnapshot } from '../../src/governor/index.js';
import { boundAtRam } from '../../src/governor/ram-target.js';
import { Rng } from '../../src/sim/rng.js';
import { ALL_FLAGS, GiB, MiB, simTruthModel } from './fixtures.js';

const uncalibrated = compileModel(simTruthModel());
const calibrated = compileModel({
  ...simTruthModel(),
  calibration: calibrationFromScores(
    Array.from({ length: 300 }, (_, i) => new Rng(i).normal(0, 0.25)),
    'split',
    ['mlx5-cx7', 'qat-vf', 'generic-nic'],
  ),
});

const PROFILE_FLAGS: Readonly<Record<string, number>> = { 'mlx5-cx7': ALL_FLAGS, 'qat-vf': ALL_FLAGS, 'generic-nic': MigFlags.STOP_COPY };

/** Log-uniform in [min, max]: sizes and times span orders of magnitude. */
const logUniform = (min: number, max: number): fc.Arbitrary<number> =>
  fc.double({ min: Math.log(min), max: Math.log(max), noNaN: true }).map(Math.exp);

const PRE_COPY_STATES: readonly MigState[] = [MigState.PRE_COPY, MigState.PRE_COPY_P2P];

/** Mostly healthy source devices of the known models; rarely anything at all. */
const deviceArb = (i: number): fc.Arbitrary<DeviceSnapshot> =>
  fc
    .record({
      model: fc.oneof({ weight: 60, arbitrary: fc.constantFrom('mlx5-cx7', 'qat-vf', 'generic-nic') }, { weight: 1, arbitrary: fc.constant('unknown-gpu') }),
      healthy: fc.oneof({ weight: 40, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      precopy: fc.boolean(),
      anyState: fc.constantFrom(...ALL_STATES),
      anyFlags: fc.constantFrom(...VALID_FLAG_SETS),
      stopCopyBytes: fc.oneof({ weight: 40, arbitrary: fc.integer({ min: 0, max: 512 * MiB }) }, { weight: 1, arbitrary: fc.constant(null) }),
      initialBytes: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 300 * MiB })),
      dirtyBytes: fc.integer({ min: 0, max: 64 * MiB }),
    })
    .map(({ model, healthy, precopy, anyState, anyFlags, stopCopyBytes, initialBytes, dirtyBytes }) => {
      const ownFlags = PROFILE_FLAGS[model] ?? ALL_FLAGS;
      const flags = healthy ? ownFlags : anyFlags;
      const state = healthy ? (precopy && (ownFlags & MigFlags.PRE_COPY) !== 0 ? MigState.PRE_COPY : MigState.RUNNING) : anyState;
      const base = { id: `d${i}`, model, state, flags, stopCopyBytes };
      return PRE_COPY_STATES.includes(state) ? { ...base, initialBytes, dirtyBytes } : base;
    });

const snapshotArb: fc.Arbitrary<VmSnapshot> = fc
  .integer({ min: 1, max: 8 })
  .chain((n) =>
    fc.record({
      devices: fc.tuple(...Array.from({ length: n }, (_, i) => deviceArb(i))),
      ramRemainingBytes: fc.oneof(fc.constant(0), logUniform(MiB, 64 * GiB).map(Math.round)),
      ramDirtyBytesPerS: fc.oneof(fc.constant(0), logUniform(MiB, 4 * GiB)),
      precopyBandwidthBytesPerS: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 20, arbitrary: logUniform(16 * MiB, 4 * GiB) }),
      elapsedMs: logUniform(1, 300_000),
    }),
  );

/**
 * SLOs whose deadline lands near the VM's own blackout: `deadlineFactor` × the bound with no RAM
 * left (when that can be predicted), so every branch is reached, not only "unreachable".
 */
const sloArb = fc.record({
  deadlineFactor: logUniform(0.5, 20),
  alpha: fc.double({ min: 0.001, max: 0.3, noNaN: true }),
  budgetMs: fc.oneof(logUniform(1_000, 1_000_000), fc.constant(Infinity)),
});

function sloFor(model: CompiledModel, s: VmSnapshot, g: { deadlineFactor: number; alpha: number; budgetMs: number }): Slo {
  const empty = boundOf(model, { ...s, ramRemainingBytes: 0, ramDirtyBytesPerS: 0 }, g.alpha);
  const deadlineMs = Number.isFinite(empty) && empty > 0 ? empty * g.deadlineFactor : 300 * g.deadlineFactor;
  return { deadlineMs, alpha: g.alpha, budgetMs: g.budgetMs };
}

/** A model whose final sync carries 2 s of dirtying: the branch where the dirty rate alone breaks the deadline. */
const withCarry = compileModel({ ...simTruthModel(), ram: { n: 100, carryMs: 2000, source: 'fitted' } });

const modelArb = fc.constantFrom<[string, CompiledModel]>(['uncalibrated', uncalibrated], ['calibrated', calibrated], ['carry', withCarry]);

function sizesKnown(s: VmSnapshot): boolean {
  return s.devices.every((d) => d.stopCopyBytes !== null);
}

/** The bound predicted for the snapshot as it is (only when every size is known). */
function boundOf(model: CompiledModel, s: VmSnapshot, alpha: number): number {
  const devices = s.devices.map((d) => ({ ...d, stopCopyBytes: d.stopCopyBytes ?? 0 }));
  return predictBlackout(model, { devices, ramRemainingBytes: s.ramRemainingBytes, ramDirtyBytesPerS: s.ramDirtyBytesPerS }, alpha).boundMs;
}

const SOURCE_STATES: readonly MigState[] = [MigState.STOP, MigState.RUNNING, MigState.STOP_COPY, MigState.RUNNING_P2P, MigState.PRE_COPY, MigState.PRE_COPY_P2P];

describe('decide over random VMs', () => {
  it('never commits when the independently predicted bound exceeds the deadline, a size or a model is missing, or a device is not a healthy source', () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(snapshotArb, sloArb, modelArb, (s, g, [, model]) => {
        const slo = sloFor(model, s, g);
        const d = decide(s, model, slo);
        seen.set(d.reason, (seen.get(d.reason) ?? 0) + 1);
        expect(d.action).toBe(REASON_ACTIONS[d.reason]);
        if (d.action !== 'commit') return;
        expect(sizesKnown(s)).toBe(true);
        expect(d.missing).toEqual([]);
        expect(s.devices.every((dev) => SOURCE_STATES.includes(dev.state) && (PROFILE_FLAGS[dev.model] ?? 0) !== 0)).toBe(true);
        expect(s.elapsedMs).toBeLessThan(slo.budgetMs);
        const bound = boundOf(model, s, slo.alpha);
        expect(d.predictedBlackoutMs).toBe(bound);
        expect(bound).toBeLessThanOrEqual(slo.deadlineMs);
        expect(d.medianBlackoutMs).toBeLessThanOrEqual(d.predictedBlackoutMs);
      }),
      { numRuns: 3000 },
    );
    // The generators must reach every branch, or the property proves little.
    for (const reason of Object.keys(REASON_ACTIONS)) expect(seen.get(reason) ?? 0, reason).toBeGreaterThan(5);
  });

  it('calls a deadline unreachable only when even an idle guest with no RAM left cannot fit', () => {
    let unreachable = 0;
    fc.assert(
      fc.property(snapshotArb, sloArb, modelArb, (s, g, [, model]) => {
        const slo = sloFor(model, s, g);
        const d = decide(s, model, slo);
        if (d.reason !== 'DEADLINE_UNREACHABLE') return;
        unreachable++;
        // Drained pre-copy data is the best the devices can do; RAM 0 and no dirtying the best RAM can.
        const drained = s.devices.map((x) => {
          const size = x.stopCopyBytes ?? 0;
          const pending = PRE_COPY_STATES.includes(x.state) ? Math.min(size, (x.initialBytes ?? 0) + (x.dirtyBytes ?? 0)) : 0;
          return { ...x, stopCopyBytes: size - pending };
        });
        const best = boundOf(model, { ...s, devices: drained, ramRemainingBytes: 0, ramDirtyBytesPerS: 0 }, slo.alpha);
        expect(best).toBeGreaterThan(slo.deadlineMs);
      }),
      { numRuns: 1000 },
    );
    expect(unreachable).toBeGreaterThan(5);
  });

  it('gives targets that fit and throttle numbers that are rates', () => {
    fc.assert(
      fc.property(snapshotArb, sloArb, modelArb, (s, g, [, model]) => {
        const slo = sloFor(model, s, g);
        const d = decide(s, model, slo);
        if (d.targetRamBytes !== null) {
          expect(d.targetRamBytes).toBeGreaterThanOrEqual(0);
          expect(d.targetRamBytes).toBeLessThanOrEqual(s.ramRemainingBytes);
        }
        if (d.reason === 'CONVERGING') {
          const q = { devices: s.devices.map((x) => ({ ...x, stopCopyBytes: x.stopCopyBytes ?? 0 })), ramDirtyBytesPerS: s.ramDirtyBytesPerS, link: 'default', serial: false };
          expect(boundAtRam(model, q, slo.alpha, d.targetRamBytes!)).toBeLessThanOrEqual(slo.deadlineMs);
          expect(d.waitMs!).toBeLessThanOrEqual(slo.budgetMs - s.elapsedMs);
        }
        if (d.action === 'throttle') {
          const t = d.throttle!;
          expect(t.maxDirtyBytesPerS).toBeGreaterThanOrEqual(0);
          expect(t.maxDirtyBytesPerS).toBeLessThanOrEqual(t.currentDirtyBytesPerS);
          expect(t.throttleFraction).toBeGreaterThanOrEqual(0);
          expect(t.throttleFraction).toBeLessThanOrEqual(1);
        } else {
          expect(d.throttle).toBeNull();
        }
      }),
      { numRuns: 1000 },
    );
  });
});
