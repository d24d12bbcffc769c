import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/estimators/predict.js';
import { CalibrationWatcher, GovernorError, decide, outcomeRecord } from '../../src/governor/index.js';
import { mlx5, simTruthModel, vm } from './fixtures.js';

const ok = { predictedBlackoutMs: 300, actualBlackoutMs: 200, met: true };
const exceeded = { predictedBlackoutMs: 300, actualBlackoutMs: 310, met: true };
const missed = { predictedBlackoutMs: 300, actualBlackoutMs: 450, met: false };

describe('CalibrationWatcher', () => {
  it('has no verdict before enough outcomes', () => {
    const w = new CalibrationWatcher({ alpha: 0.05 });
    expect(w.status()).toMatchObject({ n: 0, exceedances: 0, drifting: false, pValue: 1 });
    for (let i = 0; i < 5; i++) w.observe(missed);
    expect(w.status()).toMatchObject({ n: 5, exceedances: 5, misses: 5, drifting: false });
  });

  it('counts bound exceedances and deadline misses separately', () => {
    const w = new CalibrationWatcher({ alpha: 0.1 });
    w.observe(ok);
    w.observe(exceeded);
    const s = w.observe(missed);
    expect(s).toMatchObject({ n: 3, exceedances: 2, misses: 1 });
    expect(s.exceedanceRate).toBeCloseTo(2 / 3, 12);
  });

  it('keeps only the last `window` outcomes', () => {
    const w = new CalibrationWatcher({ alpha: 0.1, window: 3 });
    w.observe(missed);
    for (let i = 0; i < 3; i++) w.observe(ok);
    expect(w.status()).toMatchObject({ n: 3, exceedances: 0, misses: 0 });
  });

  it('flags drift when exceedances are far more than α explains, not when they are about α', () => {
    const healthy = new CalibrationWatcher({ alpha: 0.1 });
    const drifted = new CalibrationWatcher({ alpha: 0.1 });
    for (let i = 0; i < 100; i++) {
      healthy.observe(i % 10 === 0 ? exceeded : ok);
      drifted.observe(i % 4 === 0 ? exceeded : ok);
    }
    expect(healthy.status().drifting).toBe(false);
    expect(drifted.status().drifting).toBe(true);
  });

  it('rejects an α that is no probability', () => {
    expect(() => new CalibrationWatcher({ alpha: 1 })).toThrow(GovernorError);
  });
});

describe('outcomeRecord', () => {
  const model = compileModel(simTruthModel());
  const commit = decide(vm([mlx5('a')], { ramRemainingBytes: 0 }), model, { deadlineMs: 1e5, alpha: 0.05, budgetMs: 1e6 });

  it('records predicted bound, actual blackout and whether the deadline was met', () => {
    expect(outcomeRecord('m', commit, 12.5, 2e5)).toEqual({
      kind: 'outcome',
      migrationId: 'm',
      policy: 'governor',
      deadlineMs: 1e5,
      decidedAtMs: 12.5,
      predictedBlackoutMs: commit.predictedBlackoutMs,
      actualBlackoutMs: 2e5,
      met: false,
    });
  });

  it('refuses decisions that were not commits, and impossible blackouts', () => {
    const wait = decide(vm([mlx5('a', { stopCopyBytes: null })]), model, { deadlineMs: 1e5, alpha: 0.05, budgetMs: 1e6 });
    expect(() => outcomeRecord('m', wait, 0, 100)).toThrow(expect.objectContaining({ code: 'E_BAD_REQUEST' }));
    expect(() => outcomeRecord('m', commit, 0, -1)).toThrow(expect.objectContaining({ code: 'E_BAD_REQUEST' }));
  });
});
