/**
 * Coverage of the blackout bound on simulated migrations not used for fitting: the share of
 * actual blackouts ≤ bound must be 1 − α within sampling error — that of the calibration set
 * (coverage given n scores is Beta-distributed, sd ≈ √(α(1−α)/n)) plus that of the test set.
 */
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/estimators/compile.js';
import { fitModel } from '../../src/estimators/fit.js';
import { migrationFacts } from '../../src/estimators/migrations.js';
import { predictBlackout } from '../../src/estimators/predict.js';
import { buildPriors } from '../../src/estimators/priors.js';
import type { FittedModel } from '../../src/estimators/types.js';
import { simulateFleet, TestRng } from './simulate.js';

const TEST_N = 3000;

function coverage(model: FittedModel, alpha: number, seed: number): { coverage: number; calibrated: number } {
  const compiled = compileModel(model);
  let covered = 0;
  let calibrated = 0;
  for (const recs of simulateFleet(new TestRng(seed), TEST_N, 'test')) {
    const f = migrationFacts('test', recs);
    const p = predictBlackout(compiled, f.query, alpha);
    if ((f.outcome?.actualBlackoutMs ?? Infinity) <= p.boundMs) covered++;
    if (p.calibrated) calibrated++;
  }
  return { coverage: covered / TEST_N, calibrated: calibrated / TEST_N };
}

function tolerance(alpha: number, nCal: number): number {
  return 3 * Math.sqrt((alpha * (1 - alpha)) / nCal + (alpha * (1 - alpha)) / TEST_N) + 1 / (nCal + 1);
}

describe('conformal coverage on simulated data (split calibration, 1000 migrations)', () => {
  const model = fitModel(simulateFleet(new TestRng(100), 1000, 'train').flat(), buildPriors(), { splitAbove: 500 });
  const nCal = model.calibration?.n ?? 0;

  it('has enough calibration scores for α = 0.01', () => {
    expect(nCal).toBeGreaterThanOrEqual(99);
  });

  it.each([0.01, 0.05, 0.1])('covers 1 − α of new migrations at α = %s', (alpha) => {
    const { coverage: c, calibrated } = coverage(model, alpha, 200);
    expect(calibrated).toBe(1);
    expect(c).toBeGreaterThanOrEqual(1 - alpha - tolerance(alpha, nCal));
    expect(c).toBeLessThanOrEqual(1 - alpha + tolerance(alpha, nCal));
  });
});

describe('conformal coverage on simulated data (cross-fit calibration, 150 migrations)', () => {
  const model = fitModel(simulateFleet(new TestRng(101), 150, 'train').flat(), buildPriors());

  it.each([0.05, 0.1])('covers 1 − α of new migrations at α = %s', (alpha) => {
    const { coverage: c } = coverage(model, alpha, 201);
    expect(model.calibration?.method).toBe('cross-fit');
    expect(c).toBeGreaterThanOrEqual(1 - alpha - tolerance(alpha, 150));
    expect(c).toBeLessThanOrEqual(1 - alpha + tolerance(alpha, 150));
  });
});

describe('the conservative bound when calibration is too small', () => {
  const model = fitModel(simulateFleet(new TestRng(102), 12, 'train').flat(), buildPriors());

  it.each([0.01, 0.05])('says calibrated: false and still covers at least 1 − α at α = %s', (alpha) => {
    const { coverage: c, calibrated } = coverage(model, alpha, 202);
    expect(calibrated).toBe(0);
    expect(c).toBeGreaterThanOrEqual(1 - alpha);
  });
});

describe('conformal coverage on simulated data (split calibration, scaled scores)', () => {
  const model = fitModel(simulateFleet(new TestRng(100), 1000, 'train').flat(), buildPriors(), { splitAbove: 500, score: 'scaled' });
  const nCal = model.calibration?.n ?? 0;

  it.each([0.01, 0.05, 0.1])('covers 1 − α of new migrations at α = %s, as log ratios do', (alpha) => {
    expect(model.calibration?.score).toBe('scaled');
    const { coverage: c, calibrated } = coverage(model, alpha, 200);
    expect(calibrated).toBe(1);
    expect(c).toBeGreaterThanOrEqual(1 - alpha - tolerance(alpha, nCal));
    expect(c).toBeLessThanOrEqual(1 - alpha + tolerance(alpha, nCal));
  });
});
