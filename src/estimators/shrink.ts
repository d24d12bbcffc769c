/**
 * Shrinking a fit toward a prior when data are few: Bühlmann credibility (Bühlmann & Gisler,
 * *A Course in Credibility Theory*, 2005) — the estimate is `w · data + (1 − w) · prior` with
 * `w = n / (n + k)`, the prior counting as `k` samples. A device model with 0 samples is its
 * prior, with 5 samples half-way (k = 5), with 500 samples its data.
 */
import { normalQuantile } from './robust.js';
import { RESIDUAL_QUANTILE_LEVELS } from './types.js';

/** How many samples a prior is worth, by default. */
export const DEFAULT_PRIOR_PSEUDO_COUNT = 5;

/**
 * σ of the log-normal spread assumed around a line when nothing else is known (e.g. an arc of a
 * device model with 2 samples and no prior): σ = 1 puts the 90 % interval at ×0.19–×5.2 of
 * the median, as wide as the spread between published VFIO figures (published-numbers.md §7).
 */
export const VAGUE_LOG_SIGMA = 1;

/** Credibility weight of `n` samples against a prior worth `k`. */
export function credibility(n: number, k: number): number {
  return n <= 0 ? 0 : n / (n + Math.max(0, k));
}

/** `w · a + (1 − w) · b`. */
export function mix(w: number, a: number, b: number): number {
  return w * a + (1 - w) * b;
}

/** Element-wise {@link mix} of two quantile arrays at the same levels (ascending stays ascending). */
export function mixQuantiles(w: number, a: readonly number[], b: readonly number[]): number[] {
  return a.map((v, i) => mix(w, v, b[i] ?? v));
}

/**
 * Residual quantiles (ms, additive) of a log-normal spread σ around a median `medianMs`:
 * `median · (exp(z_p σ) − 1)` at each of {@link RESIDUAL_QUANTILE_LEVELS}. Used for priors
 * stated as "median M, spread ×e^σ" and for the vague spread of small samples.
 */
export function logNormalResidualQuantiles(medianMs: number, sigma: number): number[] {
  const m = Math.max(0, medianMs);
  return RESIDUAL_QUANTILE_LEVELS.map((p) => m * (Math.exp(normalQuantile(p) * sigma) - 1));
}
