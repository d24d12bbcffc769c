import { describe, expect, it } from 'vitest';
import { Rng, SimError } from '../../src/sim/index.js';

function draws(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.uint32());
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe('Rng', () => {
  it('gives the same sequence for the same seed', () => {
    expect(draws(new Rng(42), 50)).toEqual(draws(new Rng(42), 50));
  });

  it('gives different sequences for different seeds', () => {
    expect(draws(new Rng(1), 10)).not.toEqual(draws(new Rng(2), 10));
  });

  it('matches the xoshiro128** reference outputs for state {1, 2, 3, 4}', () => {
    // Hand-computed from https://prng.di.unimi.it/xoshiro128starstar.c: rotl(s1 * 5, 7) * 9.
    expect(draws(Rng.fromState([1, 2, 3, 4]), 3)).toEqual([11520, 0, 5927040]);
  });

  it('resumes exactly from its state words', () => {
    const rng = new Rng(99);
    rng.uint32();
    const resumed = Rng.fromState(rng.stateWords());
    expect(draws(resumed, 5)).toEqual(draws(rng, 5));
  });

  it('seeds from a label stably', () => {
    expect(draws(Rng.from('0000:3b:00.2'), 5)).toEqual(draws(Rng.from('0000:3b:00.2'), 5));
    expect(draws(Rng.from('a'), 5)).not.toEqual(draws(Rng.from('b'), 5));
  });

  it('draws uniforms in [0, 1) with mean near 1/2', () => {
    const rng = new Rng(7);
    const xs = Array.from({ length: 20_000 }, () => rng.next());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(xs.reduce((a, b) => a + b, 0) / xs.length).toBeCloseTo(0.5, 2);
  });

  it('draws normals with the asked mean and standard deviation', () => {
    const rng = new Rng(8);
    const xs = Array.from({ length: 20_000 }, () => rng.normal(10, 2));
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    expect(mean).toBeCloseTo(10, 1);
    expect(sd).toBeGreaterThan(1.95);
    expect(sd).toBeLessThan(2.05);
  });

  it('draws log-normals with median exp(mu)', () => {
    const rng = new Rng(9);
    expect(median(Array.from({ length: 20_000 }, () => rng.lognormal(Math.log(5), 0.5)))).toBeCloseTo(5, 0);
  });

  it('draws Pareto values with the power-law tail P(X > 2·xm) = 2^-alpha', () => {
    const rng = new Rng(10);
    const xs = Array.from({ length: 20_000 }, () => rng.pareto(3, 1.5));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(3);
    const above = xs.filter((x) => x > 6).length / xs.length;
    expect(above).toBeGreaterThan(2 ** -1.5 - 0.02);
    expect(above).toBeLessThan(2 ** -1.5 + 0.02);
  });

  it('draws exponentials with mean 1/rate', () => {
    const rng = new Rng(11);
    const xs = Array.from({ length: 20_000 }, () => rng.exponential(4));
    expect(xs.reduce((a, b) => a + b, 0) / xs.length).toBeCloseTo(0.25, 2);
  });

  it('picks weighted keys in proportion to their weights and never a zero-weight key', () => {
    const rng = new Rng(12);
    const counts = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 10_000; i++) counts[rng.weighted({ a: 1, b: 3, c: 0 })]++;
    expect(counts.c).toBe(0);
    expect(counts.b / 10_000).toBeCloseTo(0.75, 1);
  });

  it('forks independent, reproducible children', () => {
    const a = new Rng(13);
    const b = new Rng(13);
    expect(draws(a.fork(), 5)).toEqual(draws(b.fork(), 5));
    const parent = new Rng(13);
    expect(draws(parent.fork(), 5)).not.toEqual(draws(parent.fork(), 5));
  });

  it('spends no draw on certain or impossible chances', () => {
    const a = new Rng(14);
    const b = new Rng(14);
    expect(a.chance(0)).toBe(false);
    expect(a.chance(1)).toBe(true);
    expect(a.uint32()).toBe(b.uint32());
  });

  it('rejects a non-finite seed with E_SIM_CONFIG', () => {
    expect(() => new Rng(Number.NaN)).toThrow(SimError);
  });
});
