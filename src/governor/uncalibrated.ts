/**
 * When the governor's `abort` rests on a bound nobody calibrated. Cancelling a migration is the
 * one thing a VMM cannot take back, so the edges (`watch --drive`, `serve`) act on such an abort
 * only when the operator asked for it (`--abort-without-model`); otherwise they hand the
 * switchover back to the VMM's own rule (QEMU's `downtime-limit`) — what would have happened
 * without vfio-sla.
 */
import { minCalibrationSize } from '../estimators/conformal.js';
import type { Decision, DecisionReason } from './types.js';

/**
 * Abort reasons that come from the model's prediction. The others are facts a model does not
 * change — a device in ERROR or an unknown state, a spent budget — and stay aborts.
 */
const PREDICTED_ABORTS: ReadonlySet<DecisionReason> = new Set<DecisionReason>(['DEADLINE_UNREACHABLE', 'BUDGET_INSUFFICIENT', 'MODEL_MISSING']);

/** True for an `abort` from a prediction whose bound is not conformal-calibrated for this VM's devices and link. */
export function abortWithoutCalibratedModel(d: Decision): boolean {
  return d.action === 'abort' && !d.calibrated && PREDICTED_ABORTS.has(d.reason);
}

/**
 * Why a bound at level 1 − `alpha` cannot be calibrated with `scores` calibration migrations
 * (`minCalibrationSize`). Undefined when there are enough (a bound may still be uncalibrated for
 * a device model or link the calibration did not see).
 */
export function tooFewCalibrationScores(scores: number, alpha: number): string | undefined {
  const needed = minCalibrationSize(alpha);
  if (scores === 0) return 'the model has no calibration (priors, or fitted from too few migrations)';
  if (scores < needed) return `the model's ${scores} calibration migrations are too few for a ${+((1 - alpha) * 100).toFixed(3)} % bound (it needs ${needed})`;
  return undefined;
}
