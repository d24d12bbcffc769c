import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { interpolateQuantile, median, normalQuantile, quantileSorted, selectInPlace, theilSen, theilSenSlope } from '../../src/estimators/robust.js';
import { TestRng } from './simulate.js';

describe('quantiles', () => {
  it('interpolates between order statistics like R type 7', () => {
    const s = [1, 2, 3, 4, 10];
    expect(quantileSorted(s, 0.5)).toBe(3);
    expect(quantileSorted(s, 0.9)).toBeCloseTo(7.6, 12);
    expect(quantileSorted(s, 0)).toBe(1);
    expect(quantileSorted(s, 1)).toBe(10);
    expect(quantileSorted([], 0.5)).toBeNaN();
    expect(median([5, 1, 3, 2])).toBe(2.5);
  });

  it('gives the standard normal quantiles', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 5);
    expect(normalQuantile(0.999)).toBeCloseTo(3.090232, 5);
  });

  it('interpolates a stored quantile function and stays flat beyond its ends', () => {
    const levels = [0.1, 0.5, 0.9];
    const values = [1, 5, 9];
    expect(interpolateQuantile(levels, values, 0.7)).toBeCloseTo(7, 12);
    expect(interpolateQuantile(levels, values, 0.01)).toBe(1);
    expect(interpolateQuantile(levels, values, 0.999)).toBe(9);
  });
});

describe('theilSen', () => {
  it('recovers an exact line', () => {
    const x = [1, 2, 3, 4, 5];
    const line = theilSen(
      x,
      x.map((v) => 3 + 2 * v),
    );
    expect(line.slope).toBe(2);
    expect(line.intercept).toBe(3);
    expect(line.slopeIdentified).toBe(true);
  });

  it('ignores 20 % of wild outliers', () => {
    const rng = new TestRng(7);
    const x = Array.from({ length: 200 }, () => rng.uniform(0, 100));
    const y = x.map((v, i) => 5 + 0.5 * v + rng.normal() * 0.5 + (i % 5 === 0 ? 400 : 0));
    const line = theilSen(x, y);
    expect(line.slope).toBeGreaterThan(0.45);
    expect(line.slope).toBeLessThan(0.55);
    expect(line.intercept).toBeGreaterThan(4);
    expect(line.intercept).toBeLessThan(7);
    expect(line.slopeLow).toBeLessThanOrEqual(line.slope);
    expect(line.slopeHigh).toBeGreaterThanOrEqual(line.slope);
  });

  it('samples pairs on big inputs and still finds the slope', () => {
    const rng = new TestRng(11);
    const x = Array.from({ length: 20_000 }, () => rng.uniform(0, 1e9));
    const y = x.map((v) => 40 + 4e-7 * v + rng.normal());
    const line = theilSen(x, y);
    expect(line.slope / 4e-7).toBeCloseTo(1, 2);
    expect(line.intercept).toBeCloseTo(40, 0);
  });

  it('uses the fallback slope when every x is the same', () => {
    const line = theilSen([4096, 4096, 4096], [5, 6, 7], 0.001);
    expect(line.slopeIdentified).toBe(false);
    expect(line.slope).toBe(0.001);
    expect(line.intercept).toBeCloseTo(6 - 4.096, 12);
  });
});

describe('selectInPlace', () => {
  it('finds the k-th smallest and partitions around it, duplicates included', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 60 }), fc.nat(), (values, kRaw) => {
        const a = Float64Array.from(values);
        const k = kRaw % a.length;
        const sorted = Float64Array.from(values).sort();
        expect(selectInPlace(a, k)).toBe(sorted[k]);
        for (let i = 0; i < k; i++) expect(a[i]).toBeLessThanOrEqual(a[k] as number);
        for (let i = k + 1; i < a.length; i++) expect(a[i]).toBeGreaterThanOrEqual(a[k] as number);
      }),
    );
  });
});

describe("Sen's slope interval with tied x", () => {
  it('uses the tie-corrected variance and ranks among the slopes of distinct-x pairs only', () => {
    // Three sizes, ten arcs each: the shape of arc data where a device reports few distinct sizes.
    const x: number[] = [];
    const y: number[] = [];
    for (const size of [1, 2, 3]) for (let i = 0; i < 10; i++) {
      x.push(size);
      y.push(5 + 2 * size + Math.sin(size * 10 + i * 1.7) * 0.8);
    }
    const n = x.length;
    const slopes: number[] = [];
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (x[j] !== x[i]) slopes.push((y[j]! - y[i]!) / (x[j]! - x[i]!));
    slopes.sort((a, b) => a - b);
    expect(slopes).toHaveLength(300);
    // var S = [n(n−1)(2n+5) − Σ t(t−1)(2t+5)] / 18 with three groups of t = 10.
    const varS = (n * (n - 1) * (2 * n + 5) - 3 * (10 * 9 * 25)) / 18;
    const mid = (slopes.length - 1) / 2;
    const half = Math.sqrt(varS) / 2;
    const r = theilSenSlope(x, y);
    expect(r.slopeLow).toBe(slopes[Math.floor(mid - half)]);
    expect(r.slopeHigh).toBe(slopes[Math.ceil(mid + half)]);
  });

  it('keeps the untied interval when no x repeats', () => {
    const x = Array.from({ length: 20 }, (_, i) => i);
    const y = x.map((v) => 3 * v + Math.cos(v * 2.3));
    const slopes: number[] = [];
    for (let i = 0; i < 20; i++) for (let j = i + 1; j < 20; j++) slopes.push((y[j]! - y[i]!) / (x[j]! - x[i]!));
    slopes.sort((a, b) => a - b);
    const half = Math.sqrt((20 * 19 * 45) / 18) / 2;
    const mid = (slopes.length - 1) / 2;
    const r = theilSenSlope(x, y);
    expect(r.slopeLow).toBe(slopes[Math.floor(mid - half)]);
    expect(r.slopeHigh).toBe(slopes[Math.ceil(mid + half)]);
  });
});
