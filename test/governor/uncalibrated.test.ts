import { describe, expect, it } from 'vitest';
import { conformalRank } from '../../src/estimators/conformal.js';
import { REASON_ACTIONS, type Decision, type DecisionReason } from '../../src/governor/types.js';
import { abortWithoutCalibratedModel, tooFewCalibrationScores } from '../../src/governor/uncalibrated.js';

const decision = (reason: DecisionReason, calibrated: boolean): Decision => ({ action: REASON_ACTIONS[reason], reason, calibrated } as Decision);

describe('abortWithoutCalibratedModel', () => {
  it.each([
    ['DEADLINE_UNREACHABLE', false, true],
    ['BUDGET_INSUFFICIENT', false, true],
    ['MODEL_MISSING', false, true],
    ['DEADLINE_UNREACHABLE', true, false],
    ['DEVICE_ERROR', false, false],
    ['DEVICE_STATE_UNKNOWN', false, false],
    ['BUDGET_SPENT', false, false],
    ['CONVERGING', false, false],
    ['FITS', false, false],
  ] as const)('%s with calibrated=%s → %s', (reason, calibrated, expected) => {
    expect(abortWithoutCalibratedModel(decision(reason, calibrated))).toBe(expected);
  });
});

describe('tooFewCalibrationScores', () => {
  it.each([0.01, 0.05, 0.1, 0.2])('asks for exactly the fewest scores that calibrate at alpha %f', (alpha) => {
    const needed = Number(/it needs (\d+)/.exec(tooFewCalibrationScores(1, alpha) ?? '')?.[1]);
    expect(conformalRank(needed, alpha)).toBeLessThanOrEqual(needed);
    expect(conformalRank(needed - 1, alpha)).toBeGreaterThan(needed - 1);
    expect(tooFewCalibrationScores(needed, alpha)).toBeUndefined();
  });

  it('says when there is no calibration at all', () => {
    expect(tooFewCalibrationScores(0, 0.01)).toMatch(/no calibration/);
  });
});
