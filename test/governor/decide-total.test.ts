import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/estimators/predict.js';
import { conformalQuantile } from '../../src/estimators/conformal.js';
import { decide } from '../../src/governor/index.js';
import { GiB, MiB, mlx5, simTruthModel, vm } from './fixtures.js';

const model = compileModel(simTruthModel());
const ALPHA = 0.05;
const SCORES = Array.from({ length: 99 }, (_, i) => (i - 49) / 50);
const learned = compileModel({ ...simTruthModel(), precopyTime: { n: SCORES.length, logRatioScores: SCORES } });

describe('decide: time to completion', () => {
  it('is the blackout alone for a commit', () => {
    const d = decide(vm([mlx5('a')]), model, { deadlineMs: 1e6, alpha: ALPHA, budgetMs: 60_000 });
    expect(d.action).toBe('commit');
    expect(d.medianTotalMs).toBe(d.medianBlackoutMs);
    expect(d.predictedTotalMs).toBe(d.predictedBlackoutMs);
  });

  it('adds the pre-copy wait, bounded by the budget when the model has not learned the projection error', () => {
    const s = vm([mlx5('a')], { ramRemainingBytes: 4 * GiB });
    const deadlineMs = decide({ ...s, ramRemainingBytes: 256 * MiB }, model, { deadlineMs: 1e6, alpha: ALPHA, budgetMs: 60_000 }).predictedBlackoutMs;
    const d = decide(s, model, { deadlineMs, alpha: ALPHA, budgetMs: 60_000 });
    expect(d.reason).toBe('CONVERGING');
    expect(d.medianTotalMs).toBeCloseTo(d.waitMs! + Math.min(d.medianBlackoutMs, deadlineMs), 6);
    // 10 s of the 60 s budget are spent: the governor aborts 50 s from now at the latest.
    expect(d.predictedTotalMs).toBeCloseTo(50_000 + deadlineMs, 6);
    expect(decide(s, model, { deadlineMs, alpha: ALPHA, budgetMs: Infinity }).predictedTotalMs).toBe(Infinity);
  });

  it('bounds the pre-copy wait by the learned projection error when the model carries it', () => {
    const s = vm([mlx5('a')], { ramRemainingBytes: 4 * GiB });
    const deadlineMs = decide({ ...s, ramRemainingBytes: 256 * MiB }, model, { deadlineMs: 1e6, alpha: ALPHA, budgetMs: 60_000 }).predictedBlackoutMs;
    const d = decide(s, learned, { deadlineMs, alpha: ALPHA, budgetMs: Infinity });
    const q = conformalQuantile(SCORES, ALPHA)!;
    expect(d.predictedTotalMs).toBeCloseTo(d.waitMs! * Math.exp(q) + deadlineMs, 6);
    expect(d.predictedTotalMs).toBeGreaterThan(d.medianTotalMs);
  });

  it("does not wait on a projection from ρ once QEMU's passes have levelled off above the target", () => {
    const s = vm([mlx5('a')], { ramRemainingBytes: 4 * GiB });
    const deadlineMs = decide({ ...s, ramRemainingBytes: 256 * MiB }, model, { deadlineMs: 1e6, alpha: ALPHA, budgetMs: 60_000 }).predictedBlackoutMs;
    const slo = { deadlineMs, alpha: ALPHA, budgetMs: 60_000 };
    const converging = decide(s, model, slo);
    expect(converging.reason).toBe('CONVERGING');
    // ρ = 0.25, but the last six passes started at ~1 GiB: the working set is rewritten each pass.
    const plateau = [1.1, 1.0, 1.05, 1.0, 1.1, 1.02].map((g) => g * GiB);
    const d = decide({ ...s, ramPassStartBytes: plateau }, model, slo);
    expect(d.reason).toBe('NOT_CONVERGING');
    expect(d.action).toBe('throttle');
    expect(d.precopyPlateauBytes).toBe(1 * GiB);
    expect(d.targetRamBytes).toBeLessThan(1 * GiB);
    // The passes re-dirty what each sends: the advice starts from the bandwidth, not from 256 MiB/s.
    expect(d.throttle?.currentDirtyBytesPerS).toBe(1 * GiB);
    expect(d.throttle?.maxDirtyBytesPerS).toBeLessThan(1 * GiB);
    // The time to completion is the throttled pre-copy's, not the unthrottled wait's.
    expect(d.medianTotalMs).not.toBeCloseTo(converging.medianTotalMs, 0);
    expect(d.medianTotalMs).toBeGreaterThan(converging.waitMs!);
  });

  it('still waits while the passes shrink, or when they level off below the target', () => {
    const s = vm([mlx5('a')], { ramRemainingBytes: 4 * GiB });
    const deadlineMs = decide({ ...s, ramRemainingBytes: 256 * MiB }, model, { deadlineMs: 1e6, alpha: ALPHA, budgetMs: 60_000 }).predictedBlackoutMs;
    const slo = { deadlineMs, alpha: ALPHA, budgetMs: 60_000 };
    const shrinking = decide({ ...s, ramPassStartBytes: [4, 3, 2.2, 1.6, 1.1, 0.8].map((g) => g * GiB) }, model, slo);
    expect(shrinking.reason).toBe('CONVERGING');
    expect(shrinking.precopyPlateauBytes).toBeNull();
    const low = decide({ ...s, ramPassStartBytes: [40, 42, 41, 40, 43, 41].map((m) => m * MiB) }, model, slo);
    expect(low.reason).toBe('CONVERGING');
    expect(low.precopyPlateauBytes).toBe(40 * MiB);
  });

  it('refuses pass starts that are not byte counts, naming them', () => {
    expect(() => decide(vm([mlx5('a')], { ramPassStartBytes: [1, -2] }), model, { deadlineMs: 300, alpha: ALPHA, budgetMs: 60_000 }))
      .toThrow(/ramPassStartBytes=\[1, -2\]/);
  });

  it('counts pre-copy at the advised dirty rate for a throttle', () => {
    const s = vm([mlx5('a')], { ramRemainingBytes: 4 * GiB, ramDirtyBytesPerS: 2 * GiB });
    const deadlineMs = decide({ ...s, ramRemainingBytes: 64 * MiB, ramDirtyBytesPerS: 0 }, model, { deadlineMs: 1e6, alpha: ALPHA, budgetMs: 60_000 }).predictedBlackoutMs * 2;
    const d = decide(s, model, { deadlineMs, alpha: ALPHA, budgetMs: 60_000 });
    expect(d.action).toBe('throttle');
    expect(d.medianTotalMs).toBeGreaterThan(4000); // at least one round of 4 GiB at 1 GiB/s
    expect(d.medianTotalMs).toBeLessThanOrEqual(d.predictedTotalMs);
  });

  it('is NaN when the decision does not expect the migration to complete', () => {
    const d = decide(vm([mlx5('a')], { elapsedMs: 70_000 }), model, { deadlineMs: 300, alpha: ALPHA, budgetMs: 60_000 });
    expect(d.action).toBe('abort');
    expect(d.medianTotalMs).toBeNaN();
    expect(d.predictedTotalMs).toBeNaN();
  });
});
