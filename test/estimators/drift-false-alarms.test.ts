import { describe, expect, it } from 'vitest';
import { betaBinomialUpperTail, binomialUpperTail, conformalRank, driftTest } from '../../src/estimators/conformal.js';
import { seededUniform } from '../../src/estimators/robust.js';
import { CalibrationWatcher } from '../../src/governor/calibration.js';

/**
 * A healthy model, simulated: one calibration set of `n` exchangeable scores fixes the bound (its
 * conformal rank), then a window of `window` new migrations from the same distribution is tested.
 * Returns the share of repetitions that alarmed.
 */
function falseAlarmRate(reps: number, n: number, window: number, alpha: number, calibrationSize: number | undefined, seed: number): number {
  const u = seededUniform(seed);
  const k = conformalRank(n, alpha);
  const cal = new Float64Array(n);
  let alarms = 0;
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < n; i++) cal[i] = u();
    cal.sort();
    const bound = cal[k - 1]!;
    const pairs: Array<{ boundMs: number; actualMs: number }> = [];
    for (let j = 0; j < window; j++) pairs.push({ boundMs: bound, actualMs: u() });
    if (driftTest(pairs, alpha, calibrationSize === undefined ? 0.01 : { significance: 0.01, calibrationSize }).recalibrate) alarms++;
  }
  return alarms / reps;
}

describe('driftTest on a healthy model with one fixed calibration set', () => {
  const reps = 4000;

  it('alarms at most at its nominal 1 % when told the calibration size (α = 0.01, n = 220, window 500)', () => {
    // Monte Carlo: 3 standard errors above 1 % at 4000 repetitions is 1.47 %.
    expect(falseAlarmRate(reps, 220, 500, 0.01, 220, 17)).toBeLessThanOrEqual(0.0147);
  });

  it('alarms several times too often with the plain binomial test (the overdispersion it ignores)', () => {
    expect(falseAlarmRate(reps, 220, 500, 0.01, undefined, 17)).toBeGreaterThan(0.03);
  });

  it('stays at or under nominal at other sizes and levels', () => {
    expect(falseAlarmRate(2000, 99, 200, 0.01, 99, 5)).toBeLessThanOrEqual(0.0167);
    expect(falseAlarmRate(2000, 500, 300, 0.05, 500, 6)).toBeLessThanOrEqual(0.0167);
  });
});

describe('betaBinomialUpperTail', () => {
  it('sums to 1 from 0 and matches a hand-computed pmf (n = 2, a = b = 1: uniform over 0, 1, 2)', () => {
    expect(betaBinomialUpperTail(0, 2, 1, 1)).toBe(1);
    expect(betaBinomialUpperTail(1, 2, 1, 1)).toBeCloseTo(2 / 3, 10);
    expect(betaBinomialUpperTail(2, 2, 1, 1)).toBeCloseTo(1 / 3, 10);
    expect(betaBinomialUpperTail(3, 2, 1, 1)).toBe(0);
  });

  it('tends to the binomial when the Beta concentrates', () => {
    expect(betaBinomialUpperTail(5, 100, 1e5, 1e7 - 1e5)).toBeCloseTo(binomialUpperTail(5, 100, 0.01), 3);
  });

  it('is refused a calibration size that is not a positive integer', () => {
    expect(() => driftTest([], 0.01, { calibrationSize: 2.5 })).toThrow(expect.objectContaining({ code: 'E_BAD_ARGUMENT' }));
    expect(() => new CalibrationWatcher({ alpha: 0.01, calibrationSize: 0 })).toThrow(expect.objectContaining({ code: 'E_BAD_REQUEST' }));
  });
});

describe('CalibrationWatcher with the calibration size', () => {
  it('does not call a window drifting that a fixed calibration set explains (5 exceedances in 100 at α = 0.01, n = 220)', () => {
    const plain = new CalibrationWatcher({ alpha: 0.01, window: 100 });
    const sized = new CalibrationWatcher({ alpha: 0.01, window: 100, calibrationSize: 220 });
    for (let i = 0; i < 100; i++) {
      const o = { predictedBlackoutMs: 300, actualBlackoutMs: i < 5 ? 310 : 200, met: true };
      plain.observe(o);
      sized.observe(o);
    }
    expect(plain.status().drifting).toBe(true);
    expect(sized.status().drifting).toBe(false);
    expect(sized.status().pValue).toBeGreaterThan(plain.status().pValue);
  });
});
