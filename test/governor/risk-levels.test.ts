import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/estimators/predict.js';
import { decide } from '../../src/governor/decide.js';
import { decideAtLowestLevel } from '../../src/governor/risk-levels.js';
import { GovernorError } from '../../src/governor/errors.js';
import type { Slo } from '../../src/governor/types.js';
import { calibratedSimModel, mlx5, vm } from './fixtures.js';

describe('deciding at the lowest miss level in reach', () => {
  // Log-ratio scores of σ = 0.6: the bound at α = 0.01 is well above the one at α = 0.2.
  const model = compileModel(calibratedSimModel(0.6));
  // No RAM and an idle guest: only the devices' bound decides, so a deadline between the two bounds is unreachable at the lower level.
  const snapshot = vm([mlx5('a'), mlx5('b')], { ramRemainingBytes: 0, ramDirtyBytesPerS: 0 });
  const levels = [0.01, 0.2];
  const boundAt = (alpha: number): number => decide(snapshot, model, { deadlineMs: 1e9, alpha, budgetMs: 60_000 }).predictedBlackoutMs;
  const [low, high] = [boundAt(0.01), boundAt(0.2)];
  const slo = (deadlineMs: number): Slo => ({ deadlineMs, alpha: 0.5, budgetMs: 60_000 });

  it('commits at the lower level when its bound fits', () => {
    expect(low).toBeGreaterThan(high * 1.1);
    const r = decideAtLowestLevel(snapshot, model, slo(low + 1), levels);
    expect(r).toMatchObject({ level: 0, decision: { action: 'commit', reason: 'FITS', alpha: 0.01 } });
  });

  it('goes up a level when the lower bound cannot be reached, and stays there when asked to', () => {
    const between = (low + high) / 2;
    expect(decide(snapshot, model, { ...slo(between), alpha: 0.01 }).reason).toBe('DEADLINE_UNREACHABLE');
    const r = decideAtLowestLevel(snapshot, model, slo(between), levels);
    expect(r).toMatchObject({ level: 1, decision: { action: 'commit', alpha: 0.2 } });
    expect(decideAtLowestLevel(snapshot, model, slo(low + 1), levels, 1).level).toBe(1);
    // Out of reach at every level: the top level's abort.
    expect(decideAtLowestLevel(snapshot, model, slo(high / 2), levels)).toMatchObject({ level: 1, decision: { reason: 'DEADLINE_UNREACHABLE' } });
  });

  it('returns an abort no level lifts where it met it', () => {
    const spent = decideAtLowestLevel({ ...snapshot, elapsedMs: 60_000 }, model, slo(low + 1), levels);
    expect(spent).toMatchObject({ level: 0, decision: { reason: 'BUDGET_SPENT' } });
  });

  it('refuses levels that are empty or not ascending', () => {
    for (const bad of [[], [0.2, 0.1], [0.1, 0.1]]) expect(() => decideAtLowestLevel(snapshot, model, slo(100), bad)).toThrow(GovernorError);
  });
});
