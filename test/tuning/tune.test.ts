import { describe, expect, it } from 'vitest';
import { compileModel, predictBlackout } from '../../src/estimators/predict.js';
import { buildPriors } from '../../src/estimators/priors.js';
import { MigFlags, MigState } from '../../src/fsm/index.js';
import { TuningError } from '../../src/tuning/errors.js';
import { paretoFront } from '../../src/tuning/pareto.js';
import { tune } from '../../src/tuning/tune.js';
import type { TradeOff } from '../../src/tuning/types.js';
import { GiB, LAB, LAB_MODEL, MiB, POSTGRES_16T } from './fixtures.js';

const model = LAB;
const postgres16 = POSTGRES_16T;

describe('tune', () => {
  it('needs no throttle for a guest that converges on its own, and still sets the switchover knobs', () => {
    const r = tune({ ...postgres16, dirtyBytesPerS: 18 * MiB });
    expect(r.reason).toBe('NO_THROTTLE_NEEDED');
    expect(r.recommended?.mechanism).toBe('none');
    expect(r.recommended?.capabilities).toEqual([]);
    expect(Object.keys(r.recommended?.parameters ?? {})).toEqual(['downtime-limit', 'avail-switchover-bandwidth']);
    expect(r.recommended?.predicted).toMatchObject({ converged: true, meetsDeadline: true, withinBudget: true, slowdown: 0 });
  });

  it('bounds the total time by the budget without a learned pre-copy error, and by that error with one', () => {
    const input = { ...postgres16, dirtyBytesPerS: 18 * MiB };
    const plain = tune(input).recommended!.predicted;
    expect(plain.totalBoundMs).toBeCloseTo(input.budgetMs + plain.blackoutBoundMs, 6);
    const scores = Array.from({ length: 99 }, (_, i) => i / 200); // n = 99, α = 0.05: rank ⌈100 × 0.95⌉ = 95 → score 94 / 200
    const learned = compileModel({ ...LAB_MODEL, precopyTime: { n: 99, logRatioScores: scores } });
    const p = tune({ ...input, model: learned }).recommended!.predicted;
    expect(p.totalBoundMs).toBeCloseTo(p.precopyMs * Math.exp(0.47) + p.blackoutBoundMs, 6);
    expect(p.totalBoundMs).toBeGreaterThan(p.totalTimeMs);
  });

  it('throttles the non-converging guest so it meets the deadline within the budget', () => {
    const r = tune(postgres16);
    expect(r.feasible).toBe(true);
    expect(r.reason).toBe('THROTTLE');
    expect(r.rho).toBeCloseTo(127 / 128, 12);
    expect(r.plannedDirtyBytesPerS).toBeCloseTo(127 * MiB * 1.1, 3);
    const rec = r.recommended!;
    expect(rec.mechanism).toBe('auto-converge');
    expect(rec.capabilities).toEqual(['auto-converge']);
    expect(rec.predicted.meetsDeadline).toBe(true);
    expect(rec.predicted.withinBudget).toBe(true);
    expect(rec.predicted.blackoutBoundMs).toBeLessThanOrEqual(300);
    expect(rec.predicted.precopyMs + rec.predicted.blackoutBoundMs).toBeLessThanOrEqual(120_000);
    // The gentlest cap that works: one point lower no longer does (see the trade-off table).
    expect(rec.parameters['max-cpu-throttle']).toBe(rec.predicted.cpuThrottlePct);
    expect(rec.predicted.cpuThrottlePct).toBeGreaterThan(0);
    expect(rec.predicted.cpuThrottlePct).toBeLessThan(99);
  });

  it('hands QEMU a threshold at which our bound still fits the deadline', () => {
    const rec = tune(postgres16).recommended!;
    const k = rec.switchover;
    expect(k.thresholdBytes).toBeCloseTo((k.availSwitchoverBandwidthBytesPerS / 1000) * k.downtimeLimitMs, 6);
    expect(rec.parameters['downtime-limit']).toBe(k.downtimeLimitMs);
    expect(rec.parameters['avail-switchover-bandwidth']).toBe(k.availSwitchoverBandwidthBytesPerS);
    const at = predictBlackout(model, { devices: [], ramRemainingBytes: k.ramThresholdBytes, ramDirtyBytesPerS: rec.predicted.dirtyBytesPerS }, 0.05);
    expect(at.boundMs).toBeLessThanOrEqual(300);
  });

  it('prefers dirty-limit when a few hot vCPUs do the dirtying: quiet vCPUs keep their time', () => {
    const r = tune({ ...postgres16, vcpuDirtyBytesPerS: [100 * MiB, 10 * MiB, 10 * MiB, 7 * MiB] });
    const rec = r.recommended!;
    expect(rec.mechanism).toBe('dirty-limit');
    expect(rec.capabilities).toEqual(['dirty-limit']);
    expect(rec.parameters['vcpu-dirty-limit']).toBeGreaterThanOrEqual(1);
    const ac = r.alternatives.find((a) => a.mechanism === 'auto-converge');
    expect(ac).toBeDefined();
    expect(rec.predicted.vcpuSlowdown).toBeLessThan(ac!.predicted.vcpuSlowdown);
    // Only the hot vCPU is held back: its loss spread over four vCPUs.
    expect(rec.predicted.vcpuSlowdown).toBeLessThan(rec.predicted.slowdown / 2);
  });

  it('does not consider dirty-limit without vCPU rates, and says so', () => {
    const r = tune(postgres16);
    expect(r.alternatives.every((a) => a.mechanism !== 'dirty-limit')).toBe(true);
    expect(r.notes.some((n) => n.startsWith('dirty-limit not considered'))).toBe(true);
  });

  it('keeps to the allowed mechanisms', () => {
    const r = tune({ ...postgres16, vcpus: 4, mechanisms: ['none', 'dirty-limit'] });
    expect(r.recommended?.mechanism).toBe('dirty-limit');
    expect(r.alternatives).toEqual([]);
    expect(r.tradeOffs.every((t) => t.mechanism !== 'auto-converge')).toBe(true);
  });

  it('plans for a dirty rate above the measured one: "no throttle" on a ρ = 0.97 reading is not trusted', () => {
    const close = { ...postgres16, dirtyBytesPerS: 0.97 * 128 * MiB, budgetMs: 3_600_000 };
    expect(tune({ ...close, dirtyRateMargin: 0 }).reason).toBe('NO_THROTTLE_NEEDED');
    expect(tune(close).reason).toBe('THROTTLE');
  });

  it('says when the budget is too short and gives the throttle / time / blackout trade-offs', () => {
    const r = tune({ ...postgres16, budgetMs: 30_000 });
    expect(r.feasible).toBe(false);
    expect(r.reason).toBe('BUDGET_TOO_SHORT');
    expect(r.recommended).toBeNull();
    expect(r.tradeOffs.length).toBeGreaterThan(1);
    expect(r.tradeOffs.length).toBeLessThanOrEqual(8);
    // Waiting past the budget meets the deadline; switching at the budget does not.
    expect(r.tradeOffs.some((t) => t.when === 'fits-later' && t.meetsDeadline && !t.withinBudget)).toBe(true);
    expect(r.tradeOffs.some((t) => t.when === 'forced' && !t.meetsDeadline)).toBe(true);
    expect(paretoFront(r.tradeOffs)).toHaveLength(r.tradeOffs.length);
  });

  it('says when no RAM size fits the deadline: device arcs and fixed costs alone exceed it', () => {
    const vf = { id: 'vf0', model: 'mlx5-cx7', state: MigState.PRE_COPY, flags: MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY, stopCopyBytes: 300e6 };
    const r = tune({ ...postgres16, devices: [vf], deadlineMs: 100 });
    expect(r.reason).toBe('DEADLINE_UNREACHABLE');
    expect(r.targetRamBytes).toBe(-1);
    expect(r.tradeOffs.every((t) => !t.meetsDeadline)).toBe(true);
  });

  it('names a device without PRE_COPY that alone puts the deadline out of reach, and no other', () => {
    const nic = (id: string, stopCopyBytes: number) => ({ id, model: 'generic-nic', state: MigState.RUNNING, flags: MigFlags.STOP_COPY, stopCopyBytes });
    const r = tune({ ...postgres16, devices: [nic('nic0', 20e9), nic('nic1', 1e6)], deadlineMs: 3000 });
    expect(r.reason).toBe('DEADLINE_UNREACHABLE');
    expect(r.notes.filter((n) => n.includes('no PRE_COPY'))).toEqual([expect.stringContaining('device nic0 has no PRE_COPY')]);
    const vf = { id: 'vf0', model: 'mlx5-cx7', state: MigState.PRE_COPY, flags: MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY, stopCopyBytes: 300e6 };
    expect(tune({ ...postgres16, devices: [vf], deadlineMs: 100 }).notes.some((n) => n.includes('no PRE_COPY'))).toBe(false);
  });

  it('throttles far deeper on the priors alone (no host data): their wide link spread leaves little RAM under the deadline', () => {
    const lab = tune({ ...postgres16, budgetMs: 600_000 }).recommended!;
    const priors = tune({ ...postgres16, model: compileModel(buildPriors()), budgetMs: 600_000 }).recommended!;
    expect(priors.switchover.ramThresholdBytes).toBeLessThan(lab.switchover.ramThresholdBytes / 50);
    expect(priors.predicted.cpuThrottlePct).toBeGreaterThan(3 * lab.predicted.cpuThrottlePct);
    expect(priors.predicted.meetsDeadline).toBe(true);
  });

  it.each([
    [{ alpha: 0 }, /alpha/],
    [{ deadlineMs: -1 }, /deadlineMs/],
    [{ budgetMs: 0 }, /budgetMs/],
    [{ vcpus: 1.5 }, /vcpus/],
    [{ dirtyRateMargin: -0.1 }, /dirtyRateMargin/],
    [{ ramBytes: Number.NaN }, /workload/],
  ])('rejects %j', (bad, message) => {
    expect(() => tune({ ...postgres16, ...bad })).toThrow(TuningError);
    expect(() => tune({ ...postgres16, ...bad })).toThrow(message);
  });
});

describe('paretoFront', () => {
  const p = (slowdown: number, totalTimeMs: number, blackoutBoundMs: number): TradeOff => ({
    mechanism: 'auto-converge',
    setting: { kind: 'none' },
    parameters: {},
    when: 'fits',
    slowdown,
    vcpuSlowdown: slowdown,
    totalTimeMs,
    blackoutMedianMs: blackoutBoundMs / 2,
    blackoutBoundMs,
    meetsDeadline: true,
    withinBudget: true,
  });

  it('keeps only points nothing beats on all three axes, by slowdown', () => {
    const front = paretoFront([p(0.5, 100, 300), p(0.2, 200, 300), p(0.5, 150, 300), p(0.2, 200, 300), p(0.9, 50, 200)]);
    expect(front.map((x) => [x.slowdown, x.totalTimeMs, x.blackoutBoundMs])).toEqual([
      [0.2, 200, 300],
      [0.5, 100, 300],
      [0.9, 50, 200],
    ]);
  });

  it('thins a long front to the rows asked for, keeping both ends', () => {
    const many = Array.from({ length: 20 }, (_, i) => p(i / 20, 1000 - i * 10, 300));
    const front = paretoFront(many, 5);
    expect(front).toHaveLength(5);
    expect(front[0]?.slowdown).toBe(0);
    expect(front[4]?.slowdown).toBe(0.95);
  });
});
