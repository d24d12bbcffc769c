/**
 * Blackout throughput per link. One pooled rate for a fleet whose links span 10–100 Gb/s is too
 * optimistic for the slow links and too pessimistic for the fast ones, and pushes the link
 * differences into the fixed cost's residuals; so each named link gets its own slope (ms/byte),
 * a Theil–Sen slope of its own blackouts — an intercept-free estimate, so every link shares the
 * one fixed cost fitted afterwards (`blackout-fit.ts`).
 *
 * A link with few blackouts is shrunk toward the pooled slope with Bühlmann–Straub credibility
 * (Bühlmann & Gisler, *A Course in Credibility Theory*, 2005, §4): `w = n / (n + k)` with
 * `k = σ² / τ²` estimated from the data — σ² the variance one blackout adds to a slope
 * (n × the square of Sen's ±1σ half-width, median over the links with ≥ 3 blackouts), τ² the
 * variance of the true slopes between links (the unbiased estimator of §4.8). Links that differ
 * far more than their noise (10 GbE against 100 GbE) are barely shrunk; links that do not differ
 * are pooled. With fewer than two groups of blackouts the between-link variance cannot be
 * estimated and `k` is the prior pseudo-count, as everywhere else in the estimators.
 */
import { median, slopeIdentifiedAboveNoise, theilSenSlope } from './robust.js';
import { credibility, mix } from './shrink.js';

/** Blackouts (bytes, ms) of one link. */
export interface LinkSamples {
  readonly x: readonly number[];
  readonly y: readonly number[];
}

/** A slope (ms/byte) and its pessimistic ≈ +1σ end. */
export interface SlopeEstimate {
  readonly slope: number;
  readonly slopeHigh: number;
}

/** One link's slope after shrinkage. */
export interface LinkSlope extends SlopeEstimate {
  readonly n: number;
  /** False when the link's own blackouts do not identify a slope ({@link SLOPE_BELOW_NOISE}): it is the pooled one. */
  readonly identified: boolean;
  /** Credibility of the link's own data, in [0, 1]: 0 = the pooled slope. */
  readonly weight: number;
  /** The pseudo-count `k` the weight came from (Infinity: the links do not differ). */
  readonly pseudoCount: number;
  /** Whether `k` was estimated from the between-link spread (else the fallback). */
  readonly pseudoCountEstimated: boolean;
}

export interface LinkSlopeOptions {
  /** Smallest slope a link may get (a rate cap), ms/byte. */
  readonly minSlopeMsPerByte: number;
  /** `k` when it cannot be estimated (fewer than two groups). */
  readonly fallbackPseudoCount: number;
  readonly seed?: number;
}

/** Blackouts of a link below this many do not estimate σ² (Sen's interval of 2 points has no width). */
const MIN_SAMPLES_FOR_SPREAD = 3;

/** Why a link has no slope of its own, for the fit's notes (`LinkModel.provenance`). */
export const SLOPE_BELOW_NOISE =
  'slope not identified: the blackout sizes spread less than the blackouts’ noise (Sen’s 95 % interval of the slope reaches 0)';

/** One group's own slope, before shrinkage. */
export interface GroupSlope {
  readonly n: number;
  readonly slope: number;
  readonly slopeHigh: number;
  /** Per-blackout variance of the slope: n × (Sen's half-width)². NaN when not estimable. */
  readonly unitVariance: number;
}

function groupSlope(s: LinkSamples, fallback: number, opts: LinkSlopeOptions): GroupSlope | undefined {
  const line = theilSenSlope(s.x, s.y, fallback, opts.seed);
  // Sizes that spread less than the blackouts' noise (a few KiB of RAM left, as in the QEMU lab)
  // give a slope of noise ÷ spread: a "rate" of a few KB/s. Such a link has no rate of its own.
  if (!slopeIdentifiedAboveNoise(s.x, s.y, line, fallback)) return undefined;
  const slope = Math.max(opts.minSlopeMsPerByte, line.slope);
  const halfWidth = (line.slopeHigh - line.slopeLow) / 2;
  return {
    n: line.n,
    slope,
    slopeHigh: Math.max(slope, line.slopeHigh),
    unitVariance: line.n >= MIN_SAMPLES_FOR_SPREAD ? line.n * halfWidth * halfWidth : Number.NaN,
  };
}

/**
 * Bühlmann–Straub `k = σ² / τ²` from the groups' slopes; `undefined` when it cannot be estimated
 * (fewer than two groups, or no group with enough blackouts for σ²).
 */
export function estimatePseudoCount(groups: readonly GroupSlope[]): number | undefined {
  if (groups.length < 2) return undefined;
  const unit = groups.map((g) => g.unitVariance).filter((v) => Number.isFinite(v));
  if (unit.length === 0) return undefined;
  const sigma2 = median(unit);
  let total = 0;
  let sumSq = 0;
  let weighted = 0;
  for (const g of groups) {
    total += g.n;
    sumSq += g.n * g.n;
    weighted += g.n * g.slope;
  }
  const mean = weighted / total;
  let between = 0;
  for (const g of groups) between += g.n * (g.slope - mean) ** 2;
  const tau2 = (between - (groups.length - 1) * sigma2) / (total - sumSq / total);
  if (!(sigma2 > 0)) return tau2 > 0 ? 0 : undefined;
  return tau2 > 0 ? sigma2 / tau2 : Number.POSITIVE_INFINITY;
}

/**
 * Slopes of the named links of `named`, each shrunk toward `pooled`. `unnamed`: blackouts whose
 * link nobody named — not fitted as a link (they are the pooled `default`), but one more group
 * for the between-link variance. A link whose slope is not identified (its blackouts' sizes spread
 * less than their noise, or are all the same) gets the pooled slope.
 */
export function fitLinkSlopes(
  named: ReadonlyMap<string, LinkSamples>,
  unnamed: LinkSamples | undefined,
  pooled: SlopeEstimate,
  opts: LinkSlopeOptions,
): Map<string, LinkSlope> {
  const out = new Map<string, LinkSlope>();
  if (named.size === 0) return out;
  const own = new Map<string, GroupSlope | undefined>();
  for (const [link, s] of named) own.set(link, groupSlope(s, pooled.slope, opts));
  const groups = [...own.values()].filter((g): g is GroupSlope => g !== undefined);
  const rest = unnamed === undefined || unnamed.x.length === 0 ? undefined : groupSlope(unnamed, pooled.slope, opts);
  if (rest !== undefined) groups.push(rest);
  const estimated = estimatePseudoCount(groups);
  const k = estimated ?? opts.fallbackPseudoCount;
  for (const [link, s] of named) {
    const g = own.get(link);
    const n = s.x.length;
    const weight = g === undefined ? 0 : credibility(n, k);
    const slope = g === undefined ? pooled.slope : Math.max(opts.minSlopeMsPerByte, mix(weight, g.slope, pooled.slope));
    const slopeHigh = Math.max(slope, g === undefined ? pooled.slopeHigh : mix(weight, g.slopeHigh, pooled.slopeHigh));
    out.set(link, { n, identified: g !== undefined, slope, slopeHigh, weight, pseudoCount: k, pseudoCountEstimated: estimated !== undefined });
  }
  return out;
}
