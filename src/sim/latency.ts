/**
 * The simulator's ground truth for one arc's latency: a line in the device's size plus
 * multiplicative noise with a heavy tail. The parameters are public so tests and the estimators
 * can check that a fit recovers them.
 */
import type { Rng } from './rng.js';

/** Spread of an arc's latency around its median. */
export interface SimNoiseModel {
  /** σ of the log-normal body (median 1): 0.1 ≈ ±10 % typical spread. */
  readonly sigma: number;
  /** Probability that an arc also takes a Pareto-distributed stall multiplier (≥ 1). */
  readonly tailProb: number;
  /** Pareto shape of that stall: `P(stall > x) = x^−tailAlpha`; smaller is heavier. */
  readonly tailAlpha: number;
}

/**
 * One arc's true latency model: median `fixedMs + slopeMsPerByte × bytes (+ allocationMsPerByte
 * × unloaded bytes)`. `bytes` is the device's true MIG_DATA_SIZE when the arc starts (on a
 * RESUMING destination: the bytes written into it), the value the arc event reports.
 */
export interface SimArcModel {
  readonly fixedMs: number;
  readonly slopeMsPerByte: number;
  /**
   * `RESUMING>STOP` only: resource allocation per byte of state whose initial data was not
   * loaded before the arc (QEMU switchover-ack). 0 elsewhere.
   */
  readonly allocationMsPerByte?: number;
  /** Overrides the profile's noise for this arc. */
  readonly noise?: SimNoiseModel;
  /** Where the numbers come from: a published figure, or "choice" with the reasoning. */
  readonly source: string;
}

/** Median latency of the arc for `bytes` of state, `unloadedBytes` of it not pre-loaded. */
export function medianArcLatencyMs(model: SimArcModel, bytes: number, unloadedBytes = 0): number {
  return model.fixedMs + model.slopeMsPerByte * bytes + (model.allocationMsPerByte ?? 0) * unloadedBytes;
}

/**
 * The multiplier applied to the median: log-normal body times, with probability `tailProb`,
 * a Pareto(1, tailAlpha) stall. Its median is 1 up to the small shift the tail mixture adds
 * (for tailProb 0.02 and sigma 0.12, +0.3 %).
 */
export function sampleNoiseFactor(noise: SimNoiseModel, rng: Rng): number {
  let factor = noise.sigma > 0 ? rng.lognormal(0, noise.sigma) : 1;
  if (rng.chance(noise.tailProb)) factor *= rng.pareto(1, noise.tailAlpha);
  return factor;
}

/** One draw of the arc's latency in ms. */
export function sampleArcLatencyMs(
  model: SimArcModel,
  noise: SimNoiseModel,
  rng: Rng,
  bytes: number,
  unloadedBytes = 0,
): number {
  return medianArcLatencyMs(model, bytes, unloadedBytes) * sampleNoiseFactor(model.noise ?? noise, rng);
}
