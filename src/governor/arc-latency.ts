/**
 * Median latency of single arcs, read straight from a {@link FittedModel}: what
 * `DeadlineSetState` needs between arcs to ask "can the rest still finish before the deadline,
 * and can going back?". Not on `decide()`'s hot path.
 */
import { arcKey, type MigState } from '../fsm/index.js';
import { RESIDUAL_QUANTILE_LEVELS, type FittedModel } from '../estimators/types.js';

const MEDIAN_INDEX = RESIDUAL_QUANTILE_LEVELS.indexOf(0.5);

/**
 * Median latency of the arc `from → to` of a `deviceModel` device holding `stopCopyBytes`, ms:
 * `fixed + slope × size + median residual` (the per-arc line of `estimators/types.ts`).
 * `undefined` when the model has no such arc.
 */
export function arcMedianMs(
  model: FittedModel,
  deviceModel: string,
  from: MigState,
  to: MigState,
  stopCopyBytes: number,
): number | undefined {
  const arcs = model.arcs[deviceModel];
  if (arcs === undefined) return undefined;
  const arc = arcs[arcKey(from, to)];
  if (arc === undefined) return undefined;
  const residual = arc.residualQuantilesMs[MEDIAN_INDEX] ?? 0;
  return Math.max(0, arc.fixedMs + arc.slopeMsPerByte * stopCopyBytes + residual);
}

/**
 * Σ median latency of the arcs of `path` from `from`, ms. Arcs the model lacks count 0: used for
 * the way back, where an unknown arc should not stop the governor from bringing a VM home.
 */
export function pathMedianMs(
  model: FittedModel,
  deviceModel: string,
  from: MigState,
  path: readonly MigState[],
  stopCopyBytes: number,
): number {
  let sum = 0;
  let at = from;
  for (const to of path) {
    sum += arcMedianMs(model, deviceModel, at, to, stopCopyBytes) ?? 0;
    at = to;
  }
  return sum;
}
