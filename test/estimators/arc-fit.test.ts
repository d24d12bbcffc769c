import { describe, expect, it } from 'vitest';
import { fitArc, fitArcModels } from '../../src/estimators/arc-fit.js';
import { buildPriors } from '../../src/estimators/priors.js';
import { RESIDUAL_QUANTILE_LEVELS, type ArcLatencyModel } from '../../src/estimators/types.js';
import { MB, simulateArcs, TestRng } from './simulate.js';

const TRUTH = { fixedMs: 40, slopeMsPerByte: 0.4 / MB, sigma: 0.12 };
const P99 = RESIDUAL_QUANTILE_LEVELS.indexOf(0.99);
const P50 = RESIDUAL_QUANTILE_LEVELS.indexOf(0.5);

const bucketOf = (arcs: ReturnType<typeof simulateArcs>) => ({ x: arcs.map((a) => a.stopCopyBytes), y: arcs.map((a) => a.latencyMs) });

describe('fitArc: recovering known parameters', () => {
  it('recovers fixed and slope within 5 % from 2000 noisy arcs', () => {
    const fit = fitArc(bucketOf(simulateArcs(new TestRng(1), 2000, TRUTH)), undefined) as ArcLatencyModel;
    expect(fit.n).toBe(2000);
    expect(fit.source).toBe('fitted');
    expect(Math.abs(fit.fixedMs / TRUTH.fixedMs - 1)).toBeLessThan(0.05);
    expect(Math.abs(fit.slopeMsPerByte / TRUTH.slopeMsPerByte - 1)).toBeLessThan(0.05);
    expect(Math.abs(fit.residualQuantilesMs[P50] as number)).toBeLessThan(2);
  });

  it('is not moved by 5 % of 26× stalls (383 ms vs 14.5 ms), but its p99 residual sees them', () => {
    const clean = fitArc(bucketOf(simulateArcs(new TestRng(2), 2000, TRUTH)), undefined) as ArcLatencyModel;
    const stalled = fitArc(bucketOf(simulateArcs(new TestRng(2), 2000, { ...TRUTH, stallProb: 0.05, stallFactor: 26 })), undefined) as ArcLatencyModel;
    expect(Math.abs(stalled.fixedMs / TRUTH.fixedMs - 1)).toBeLessThan(0.1);
    expect(Math.abs(stalled.slopeMsPerByte / TRUTH.slopeMsPerByte - 1)).toBeLessThan(0.1);
    expect(stalled.residualQuantilesMs[P99] as number).toBeGreaterThan(10 * (clean.residualQuantilesMs[P99] as number));
  });

  it('keeps residual quantiles ascending and at the stored levels', () => {
    const fit = fitArc(bucketOf(simulateArcs(new TestRng(3), 300, TRUTH)), undefined) as ArcLatencyModel;
    expect(fit.residualQuantilesMs).toHaveLength(RESIDUAL_QUANTILE_LEVELS.length);
    for (let i = 1; i < fit.residualQuantilesMs.length; i++) {
      expect(fit.residualQuantilesMs[i]).toBeGreaterThanOrEqual(fit.residualQuantilesMs[i - 1] as number);
    }
  });

  it('clamps a negative fitted slope to 0', () => {
    const fit = fitArc({ x: [1, 2, 3, 4], y: [10, 9, 8, 7] }, undefined) as ArcLatencyModel;
    expect(fit.slopeMsPerByte).toBe(0);
  });
});

describe('fitArc: a device model with few samples', () => {
  const prior = buildPriors().arcs['mlx5-cx7']?.['PRE_COPY_P2P>STOP_COPY'] as ArcLatencyModel;
  const sample = (n: number) => bucketOf(simulateArcs(new TestRng(40 + n), n, TRUTH));

  it('with 0 samples is its prior', () => {
    expect(fitArc({ x: [], y: [] }, prior)).toBe(prior);
    expect(fitArc({ x: [], y: [] }, undefined)).toBeUndefined();
  });

  it('with 1 sample moves 1/6 of the way from the prior (prior worth 5)', () => {
    const b = sample(1);
    const fit = fitArc(b, prior) as ArcLatencyModel;
    expect(fit.source).toBe('shrunk');
    expect(fit.n).toBe(1);
    // One point cannot identify a slope: the prior's slope stays.
    expect(fit.slopeMsPerByte).toBe(prior.slopeMsPerByte);
    const dataFixed = (b.y[0] as number) - prior.slopeMsPerByte * (b.x[0] as number);
    expect(fit.fixedMs).toBeCloseTo(dataFixed / 6 + (5 * prior.fixedMs) / 6, 9);
    expect(fit.provenance).toMatch(/^1 samples shrunk toward the prior \(worth 5\): Ufimtseva/);
  });

  it('with 5 samples lands half-way between data and prior', () => {
    const fit = fitArc(sample(5), prior) as ArcLatencyModel;
    const data = fitArc(sample(5), undefined, { priorPseudoCount: 0 }) as ArcLatencyModel;
    expect(fit.slopeMsPerByte).toBeCloseTo((data.slopeMsPerByte + prior.slopeMsPerByte) / 2, 15);
    expect(fit.residualQuantilesMs[P99] as number).toBeLessThan(prior.residualQuantilesMs[P99] as number);
  });

  it('with 500 samples is (almost) its data', () => {
    const fit = fitArc(sample(500), prior) as ArcLatencyModel;
    expect(Math.abs(fit.slopeMsPerByte / TRUTH.slopeMsPerByte - 1)).toBeLessThan(0.1);
    expect(Math.abs(fit.fixedMs / TRUTH.fixedMs - 1)).toBeLessThan(0.1);
  });

  it('without a prior, 1 sample does not claim a zero-width spread', () => {
    const fit = fitArc(sample(1), undefined) as ArcLatencyModel;
    expect(fit.residualQuantilesMs[P99] as number).toBeGreaterThan(50);
  });
});

describe('fitArcModels', () => {
  it('groups by device model and arc, skips failed arcs and keeps unmatched priors', () => {
    const rng = new TestRng(5);
    const arcs = [
      ...simulateArcs(rng, 50, TRUTH, { model: 'mlx5-cx7' }),
      ...simulateArcs(rng, 20, { fixedMs: 5, slopeMsPerByte: 0, sigma: 0.1 }, { model: 'new-gpu', from: 'RUNNING', to: 'STOP' }),
      { ...simulateArcs(rng, 1, TRUTH, { model: 'new-gpu', from: 'STOP', to: 'STOP_COPY' })[0]!, ok: false },
    ];
    const models = fitArcModels(arcs, buildPriors().arcs);
    expect(models['mlx5-cx7']?.['PRE_COPY_P2P>STOP_COPY']?.n).toBe(50);
    expect(models['mlx5-cx7']?.['RESUMING>STOP']?.source).toBe('prior');
    expect(models['new-gpu']?.['RUNNING>STOP']).toMatchObject({ n: 20, source: 'fitted' });
    expect(models['new-gpu']?.['STOP>STOP_COPY']).toBeUndefined();
    expect(Object.keys(models).sort()).toEqual(['generic-nic', 'mlx5-cx7', 'new-gpu', 'qat-vf']);
  });
});
