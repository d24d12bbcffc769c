/**
 * Inverting the blackout bound: the largest guest RAM still to send at which the 1 − α bound
 * fits the deadline. The bound grows with bytes (transfer = bytes / blackout throughput, arcs =
 * fixed + slope × size), so the answer is where the bound crosses the deadline. Regula falsi finds
 * it in one step when the bound is linear in RAM (the usual case); alternating with bisection
 * keeps it safe when calibration or quantile steps bend the curve. Only the non-commit branch of
 * `decide()` calls this.
 */
import { predictBlackout, type CompiledModel } from '../estimators/predict.js';
import type { BlackoutDevice } from '../estimators/types.js';

/** Answers closer than this to the deadline, ms, are good enough (the bound itself is not that precise). */
const TOLERANCE_MS = 0.01;
/** Or closer than this in bytes. */
const TOLERANCE_BYTES = 64 * 1024;
/** Every second step bisects, so 64 steps shrink any interval below 1 byte. */
const MAX_STEPS = 64;

/** Devices and link of a query whose RAM is the unknown. */
export interface RamSearchQuery {
  readonly devices: readonly BlackoutDevice[];
  /** Guest dirty rate, bytes/s: the final sync's carry-over grows with it. */
  readonly ramDirtyBytesPerS: number;
  readonly link: string;
  readonly serial: boolean;
  /** The snapshot's stack ({@link stackOfSnapshot}): its calibration group and arc placement. */
  readonly stack?: string;
  readonly stopCopyToStopInBlackout?: boolean;
  /** As `BlackoutQuery.deviceStateMultifd`. */
  readonly deviceStateMultifd?: boolean | undefined;
}

/** The 1 − α bound with `ramRemainingBytes` of RAM left, ms. */
export function boundAtRam(model: CompiledModel, q: RamSearchQuery, alpha: number, ramRemainingBytes: number): number {
  const { devices, ramDirtyBytesPerS, link, serial, stack, stopCopyToStopInBlackout, deviceStateMultifd } = q;
  return predictBlackout(model, { devices, ramRemainingBytes, ramDirtyBytesPerS, link, serial, stack, stopCopyToStopInBlackout, deviceStateMultifd }, alpha).boundMs;
}

/**
 * Largest RAM remaining in [0, `maxBytes`], bytes (integer), at which the bound is ≤ `deadlineMs`;
 * -1 when even 0 bytes does not fit.
 */
export function largestFittingRamBytes(
  model: CompiledModel,
  q: RamSearchQuery,
  alpha: number,
  deadlineMs: number,
  maxBytes: number,
): number {
  let lo = 0;
  let boundLo = boundAtRam(model, q, alpha, lo);
  if (!(boundLo <= deadlineMs)) return -1;
  let hi = Math.max(0, Math.floor(maxBytes));
  let boundHi = boundAtRam(model, q, alpha, hi);
  if (boundHi <= deadlineMs) return hi;
  for (let step = 0; step < MAX_STEPS; step++) {
    if (hi - lo <= TOLERANCE_BYTES || deadlineMs - boundLo <= TOLERANCE_MS) break;
    const slope = (boundHi - boundLo) / (hi - lo);
    let guess = step % 2 === 0 && slope > 0 ? lo + (deadlineMs - boundLo) / slope : (lo + hi) / 2;
    guess = Math.floor(guess);
    if (!(guess > lo && guess < hi)) guess = Math.floor((lo + hi) / 2);
    const bound = boundAtRam(model, q, alpha, guess);
    if (bound <= deadlineMs) {
      lo = guess;
      boundLo = bound;
    } else {
      hi = guess;
      boundHi = bound;
    }
  }
  return lo;
}
