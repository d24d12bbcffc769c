import { describe, expect, it } from 'vitest';
import {
  binomialUpperTail,
  conformalQuantile,
  conformalRank,
  driftTest,
  logRatioScore,
  minCalibrationSize,
  recalibrate,
  scaledScore,
  scoreScaleMs,
} from '../../src/estimators/conformal.js';
import fc from 'fast-check';
import { buildPriors } from '../../src/estimators/priors.js';
import { TestRng } from './simulate.js';

function binomialTailBrute(k: number, n: number, p: number): number {
  let s = 0;
  for (let i = k; i <= n; i++) {
    let c = 1;
    for (let j = 0; j < i; j++) c = (c * (n - j)) / (j + 1);
    s += c * p ** i * (1 - p) ** (n - i);
  }
  return s;
}

describe('conformal rank and quantile', () => {
  it('is ⌈(n+1)(1−α)⌉ without floating-point surprises', () => {
    expect(conformalRank(39, 0.1)).toBe(36);
    expect(conformalRank(19, 0.05)).toBe(19);
    expect(conformalRank(98, 0.01)).toBe(99);
    expect(conformalRank(99, 0.01)).toBe(99);
  });

  it('needs ⌈1/α⌉ − 1 scores', () => {
    expect(minCalibrationSize(0.1)).toBe(9);
    expect(minCalibrationSize(0.05)).toBe(19);
    expect(minCalibrationSize(0.01)).toBe(99);
    expect(conformalQuantile([0.1, 0.2, 0.3], 0.1)).toBeUndefined();
    expect(conformalQuantile([1, 2, 3, 4, 5, 6, 7, 8, 9], 0.1)).toBe(9);
  });

  it('scores ln(actual / median) with both floored at 1 µs', () => {
    expect(logRatioScore(20, 10)).toBeCloseTo(Math.log(2), 12);
    expect(Number.isFinite(logRatioScore(0, 10))).toBe(true);
  });
});

describe('driftTest', () => {
  it('computes the exact binomial tail', () => {
    for (const [k, n, p] of [[3, 10, 0.1], [15, 100, 0.1], [0, 5, 0.2], [6, 6, 0.5]] as const) {
      expect(binomialUpperTail(k, n, p)).toBeCloseTo(binomialTailBrute(k, n, p), 12);
    }
    expect(binomialUpperTail(2000, 10_000, 0.1)).toBeLessThan(1e-100);
  });

  it('stays quiet when misses happen at the promised rate', () => {
    const rng = new TestRng(1);
    const pairs = Array.from({ length: 300 }, () => ({ boundMs: 100, actualMs: rng.chance(0.1) ? 150 : 50 }));
    const t = driftTest(pairs, 0.1);
    expect(t.n).toBe(300);
    expect(t.recalibrate).toBe(false);
  });

  it('says recalibrate when the miss rate clearly exceeds α', () => {
    const rng = new TestRng(2);
    const pairs = Array.from({ length: 300 }, () => ({ boundMs: 100, actualMs: rng.chance(0.2) ? 150 : 50 }));
    const t = driftTest(pairs, 0.1);
    expect(t.missRate).toBeGreaterThan(0.15);
    expect(t.pValue).toBeLessThan(0.01);
    expect(t.recalibrate).toBe(true);
  });

  it('needs evidence: 2 misses out of 5 at α = 0.1 is not enough at 1 %', () => {
    const pairs = [150, 150, 50, 50, 50].map((a) => ({ boundMs: 100, actualMs: a }));
    expect(driftTest(pairs, 0.1)).toMatchObject({ misses: 2, recalibrate: false });
  });
});

describe('scaled scores', () => {
  it('scale a VM by its transfer, its VM-level cost and a tenth of its devices', () => {
    // 500 ms median: 300 transfer, 20 VM-level, 180 devices.
    expect(scoreScaleMs(300, 20, 500, 0.1)).toBeCloseTo(300 + 20 + 18, 12);
    // A device-less VM with nothing left to send: its VM-level cost alone.
    expect(scoreScaleMs(0, 20, 20, 0.1)).toBe(20);
    expect(scoreScaleMs(0, 0, 0, 0.1)).toBeGreaterThan(0);
  });

  it('are (actual − median) / scale, so actual ≤ median + q × scale exactly when the score ≤ q', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e5, noNaN: true }),
        fc.double({ min: 0, max: 1e5, noNaN: true }),
        fc.double({ min: 0.01, max: 1e4, noNaN: true }),
        fc.double({ min: -5, max: 50, noNaN: true }),
        (actualMs, medianMs, scaleMs, q) => {
          const s = scaledScore(actualMs, medianMs, scaleMs);
          const bound = medianMs + q * scaleMs;
          // Away from the boundary (float rounding), the two tests agree.
          if (Math.abs(actualMs - bound) > 1e-6 * Math.max(1, bound)) expect(actualMs <= bound).toBe(s <= q);
        },
      ),
    );
  });

  it('let a stall on a small VM widen a big VM by the stall, not by its ratio', () => {
    // +150 ms on a 25 ms device-less VM (scale 25): score 6; the log ratio is ln 7.
    const s = scaledScore(175, 25, scoreScaleMs(0, 25, 25, 0.1));
    expect(s).toBeCloseTo(6, 12);
    // A VM with a 200 ms median (20 transfer, 25 VM-level, 155 devices) at that score: +6 × 60.5 ms.
    const scale = scoreScaleMs(20, 25, 200, 0.1);
    expect(200 + s * scale).toBeCloseTo(200 + 6 * 60.5, 9);
    expect(200 + s * scale).toBeLessThan(200 * 7);
  });
});

describe('recalibrate', () => {
  it('replaces the scores with those of recent migrations, keeping the point model', () => {
    const m = buildPriors();
    const r = recalibrate(m, [{ medianMs: 10, actualMs: 20 }, { medianMs: 10, actualMs: 5 }], ['mlx5-cx7']);
    expect(r.arcs).toBe(m.arcs);
    expect(r.calibration).toEqual({ logRatioScores: [Math.log(0.5), Math.log(2)], n: 2, deviceModels: ['mlx5-cx7'], method: 'online' });
  });

  it('keeps a scaled calibration scaled, and needs the scale of every pair for it', () => {
    const m = { ...buildPriors(), calibration: { logRatioScores: [0], n: 1, score: 'scaled' as const, deviceScaleWeight: 0.1 } };
    const r = recalibrate(m, [{ medianMs: 10, actualMs: 20, scaleMs: 5 }, { medianMs: 10, actualMs: 5, scaleMs: 5 }], ['mlx5-cx7']);
    expect(r.calibration).toEqual({ logRatioScores: [-1, 2], n: 2, deviceModels: ['mlx5-cx7'], method: 'online', score: 'scaled', deviceScaleWeight: 0.1 });
    expect(() => recalibrate(m, [{ medianMs: 10, actualMs: 20 }], ['mlx5-cx7'])).toThrow(/pairs\[0\]: the model's scores are scaled; scaleMs/);
  });
});
