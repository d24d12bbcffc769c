/**
 * Throttle advice that works when followed: a guest dirtying at the advised rate, with the
 * target RAM left, gets a bound within the deadline, and pre-copy at that rate gets there within
 * the budget. Where no dirty rate can fit, the decision is not `throttle` and says why.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { calibrationFromScores } from '../../src/estimators/conformal.js';
import { projectPrecopy } from '../../src/estimators/precopy.js';
import { compileModel, predictBlackout, type CompiledModel } from '../../src/estimators/predict.js';
import { MigFlags, MigState } from '../../src/fsm/index.js';
import { decide, type Decision, type DeviceSnapshot, type Slo, type VmSnapshot } from '../../src/governor/index.js';
import { Rng } from '../../src/sim/rng.js';
import { ALL_FLAGS, GiB, MiB, simTruthModel } from './fixtures.js';

/** The fixture model with a final-sync carry: the blackout RAM grows by dirty rate × carry. */
function withCarry(carryMs: number, calibrated: boolean): CompiledModel {
  const base = { ...simTruthModel(), ram: { n: 100, carryMs, source: 'fitted' as const } };
  if (!calibrated) return compileModel(base);
  const scores = Array.from({ length: 300 }, (_, i) => new Rng(i).normal(0, 0.25));
  return compileModel({ ...base, calibration: calibrationFromScores(scores, 'split', ['mlx5-cx7', 'qat-vf', 'generic-nic']) });
}
const MODELS = [50, 300, 2000].flatMap((carry) => [withCarry(carry, false), withCarry(carry, true)]);

const logUniform = (min: number, max: number): fc.Arbitrary<number> =>
  fc.double({ min: Math.log(min), max: Math.log(max), noNaN: true }).map(Math.exp);

const deviceArb = (i: number): fc.Arbitrary<DeviceSnapshot> =>
  fc
    .record({
      model: fc.constantFrom('mlx5-cx7', 'qat-vf', 'generic-nic'),
      precopy: fc.boolean(),
      stopCopyBytes: fc.integer({ min: 0, max: 512 * MiB }),
      initialBytes: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 * MiB })),
      dirtyBytes: fc.integer({ min: 0, max: 64 * MiB }),
    })
    .map(({ model, precopy, stopCopyBytes, initialBytes, dirtyBytes }) => {
      const flags = model === 'generic-nic' ? MigFlags.STOP_COPY : ALL_FLAGS;
      const inPrecopy = precopy && (flags & MigFlags.PRE_COPY) !== 0;
      const base = { id: `d${i}`, model, state: inPrecopy ? MigState.PRE_COPY : MigState.RUNNING, flags, stopCopyBytes };
      return inPrecopy ? { ...base, initialBytes, dirtyBytes } : base;
    });

const caseArb = fc.record({
  devices: fc.integer({ min: 0, max: 4 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => deviceArb(i)))),
  ramRemainingBytes: fc.oneof(fc.constant(0), logUniform(MiB, 64 * GiB).map(Math.round)),
  ramDirtyBytesPerS: fc.oneof(fc.constant(0), logUniform(MiB, 4 * GiB)),
  precopyBandwidthBytesPerS: logUniform(16 * MiB, 4 * GiB),
  wwsBytes: fc.option(logUniform(64 * MiB, 64 * GiB).map(Math.round), { nil: undefined }),
  elapsedMs: logUniform(1, 300_000),
  deadlineFactor: logUniform(0.5, 20),
  alpha: fc.double({ min: 0.001, max: 0.3, noNaN: true }),
  budgetMs: fc.oneof(logUniform(1_000, 1_000_000), fc.constant(Infinity)),
  model: fc.integer({ min: 0, max: MODELS.length - 1 }),
});

const isPrecopy = (s: MigState): boolean => s === MigState.PRE_COPY || s === MigState.PRE_COPY_P2P;

/** Devices after pre-copy sent their pending data: what a VM that followed the advice switches with. */
function drained(devices: readonly DeviceSnapshot[]): DeviceSnapshot[] {
  return devices.map((d) => {
    const size = d.stopCopyBytes ?? 0;
    const pending = isPrecopy(d.state) ? Math.min(size, (d.initialBytes ?? 0) + (d.dirtyBytes ?? 0)) : 0;
    return { ...d, stopCopyBytes: size - pending, ...(isPrecopy(d.state) ? { initialBytes: 0, dirtyBytes: 0 } : {}) };
  });
}

function boundOf(model: CompiledModel, s: VmSnapshot, alpha: number): number {
  const devices = s.devices.map((d) => ({ ...d, stopCopyBytes: d.stopCopyBytes ?? 0 }));
  return predictBlackout(model, { devices, ramRemainingBytes: s.ramRemainingBytes, ramDirtyBytesPerS: s.ramDirtyBytesPerS }, alpha).boundMs;
}

function pendingDeviceBytes(s: VmSnapshot): number {
  return s.devices.reduce((sum, d) => sum + (d.stopCopyBytes ?? 0), 0) - drained(s.devices).reduce((sum, d) => sum + (d.stopCopyBytes ?? 0), 0);
}

/** Why a decision is inconsistent, or null. */
function inconsistency(s: VmSnapshot, slo: Slo, model: CompiledModel, d: Decision): string | null {
  const budgetLeftMs = slo.budgetMs - s.elapsedMs;
  // decide()'s plan (`not-fitting.ts`): the devices' pending pre-copy data is sent first only when
  // no RAM target fits with the devices as they are; otherwise it stays for the blackout.
  const keepPending = boundOf(model, { ...s, ramRemainingBytes: 0 }, slo.alpha) <= slo.deadlineMs;
  const planned = keepPending ? s.devices : drained(s.devices);
  const precopy = (dirtyBytesPerS: number, target: number) =>
    projectPrecopy(
      {
        remainingBytes: s.ramRemainingBytes + (keepPending ? 0 : pendingDeviceBytes(s)),
        dirtyBytesPerS,
        bandwidthBytesPerS: s.precopyBandwidthBytesPerS,
        ...(s.wwsBytes === undefined ? {} : { wwsBytes: s.wwsBytes }),
      },
      target,
      { maxTimeMs: budgetLeftMs },
    );
  if (d.action === 'throttle') {
    const t = d.throttle!;
    const target = d.targetRamBytes!;
    if (!(t.maxDirtyBytesPerS < t.currentDirtyBytesPerS)) return `advice does not throttle: ${t.maxDirtyBytesPerS} of ${t.currentDirtyBytesPerS}`;
    if (!(t.throttleFraction > 0)) return 'throttle by 0 %';
    const followed = { ...s, devices: planned, ramRemainingBytes: target, ramDirtyBytesPerS: t.maxDirtyBytesPerS };
    const bound = boundOf(model, followed, slo.alpha);
    if (!(bound <= slo.deadlineMs)) return `followed, the bound is ${bound} ms > deadline ${slo.deadlineMs} ms`;
    if (!precopy(t.maxDirtyBytesPerS, target).reachesTarget) return 'pre-copy at the advised rate does not reach the target in the budget';
    const carryAlone = boundOf(model, { ...s, devices: drained(s.devices), ramRemainingBytes: 0 }, slo.alpha);
    if (carryAlone > slo.deadlineMs && d.reason !== 'DIRTY_RATE_TOO_HIGH') return `the carry-over alone breaks the deadline, but the reason is ${d.reason}`;
    if (carryAlone <= slo.deadlineMs && d.reason !== (d.rho >= 1 ? 'NOT_CONVERGING' : 'CONVERGING_TOO_SLOWLY')) return `reason ${d.reason} at ρ = ${d.rho}`;
  }
  if (d.reason === 'BUDGET_INSUFFICIENT') {
    const target = d.targetRamBytes!;
    const idle = { ...s, devices: planned, ramRemainingBytes: target, ramDirtyBytesPerS: 0 };
    if (!(boundOf(model, idle, slo.alpha) <= slo.deadlineMs)) return 'the idle target does not fit';
    if (precopy(0, target).reachesTarget) return 'a guest dirtying nothing would reach the target in the budget';
  }
  return null;
}

describe('decide: throttle advice', () => {
  it('fits when followed, and says so when no dirty rate can fit (10 000 random VMs)', () => {
    const seen = new Map<string, number>();
    const bad: string[] = [];
    fc.assert(
      fc.property(caseArb, (c) => {
        const model = MODELS[c.model]!;
        const s: VmSnapshot = {
          devices: c.devices,
          ramRemainingBytes: c.ramRemainingBytes,
          ramDirtyBytesPerS: c.ramDirtyBytesPerS,
          precopyBandwidthBytesPerS: c.precopyBandwidthBytesPerS,
          elapsedMs: c.elapsedMs,
          ...(c.wwsBytes === undefined ? {} : { wwsBytes: c.wwsBytes }),
        };
        const empty = boundOf(model, { ...s, ramRemainingBytes: 0, ramDirtyBytesPerS: 0 }, c.alpha);
        const slo: Slo = { deadlineMs: empty * c.deadlineFactor, alpha: c.alpha, budgetMs: c.budgetMs };
        const d = decide(s, model, slo);
        seen.set(d.reason, (seen.get(d.reason) ?? 0) + 1);
        const why = inconsistency(s, slo, model, d);
        if (why !== null) bad.push(`${d.reason}: ${why}`);
      }),
      { numRuns: 10_000 },
    );
    expect(bad.slice(0, 5)).toEqual([]);
    expect(bad).toHaveLength(0);
    // Every throttle and give-up branch was reached. The rarest, CONVERGING_TOO_SLOWLY, comes
    // 24–45 times in 10 000 (fast-check seeds 1–12), so "more than 20" failed about one random
    // run in 150 (a CI run saw 19); at least 5 fails less than once in 10⁹.
    for (const r of ['DIRTY_RATE_TOO_HIGH', 'NOT_CONVERGING', 'CONVERGING_TOO_SLOWLY', 'BUDGET_INSUFFICIENT', 'DEADLINE_UNREACHABLE']) {
      expect(seen.get(r) ?? 0, r).toBeGreaterThanOrEqual(5);
    }
  });
});
