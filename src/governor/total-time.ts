/**
 * `Decision.medianTotalMs` / `predictedTotalMs`: the time from now until the migration completes,
 * pre-copy rounds included — what KubeVirt's vGPU live-migration proposal asks of a VMM ("estimate
 * the maximum period for the migration", a Beta requirement) and none gives. Pre-copy is the
 * decision's own projection (`waitMs`, or at the advised dirty rate for `throttle`); its bound is
 * the model's learned projection error (`estimators/total-time.ts`) when the model carries it,
 * and never longer than the budget, at which the governor aborts. The blackout after it is the
 * current median, at most the limit (RAM only shrinks while waiting), and for the bound the limit
 * itself: the governor commits only once its 1 − α bound fits the limit.
 */
import type { CompiledModel } from '../estimators/predict.js';
import { precopyBoundWithinBudgetMs } from '../estimators/total-time.js';
import type { BlackoutPrediction } from '../estimators/types.js';

export interface TotalTime {
  readonly medianMs: number;
  readonly boundMs: number;
}

const UNKNOWN: TotalTime = Object.freeze({ medianMs: NaN, boundMs: NaN });

/**
 * The time to completion of a decision that keeps pre-copying for `precopyMs` (null when it
 * does not expect the migration to complete from here: NaN). A commit's is its blackout.
 */
export function totalTime(
  p: BlackoutPrediction,
  precopyMs: number | null,
  limitMs: number,
  budgetLeftMs: number,
  model: CompiledModel,
  alpha: number,
): TotalTime {
  if (precopyMs === null) return UNKNOWN;
  const precopyBoundMs = precopyBoundWithinBudgetMs(precopyMs, model.precopyTimeScores, alpha, budgetLeftMs);
  return { medianMs: precopyMs + Math.min(p.medianMs, limitMs), boundMs: precopyBoundMs + limitMs };
}
