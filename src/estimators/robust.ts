/**
 * Robust statistics the estimators are built from: medians, quantiles and selection from
 * simple-statistics, the Theil–Sen line (Theil 1950, Sen 1968) with Sen's distribution-free
 * slope interval, and the normal quantile. Pure and deterministic: the one random choice (which
 * pairs to sample on big inputs) comes from a seeded generator passed in or made from a fixed seed.
 *
 * Hand-written here, because simple-statistics (7.12) lacks them: the seeded generator (its
 * samplers take a `Math.random`-like source but it ships none), Theil–Sen with Sen's interval,
 * and an accurate normal quantile (see {@link normalQuantile}).
 */
import { median as ssMedian, medianAbsoluteDeviation, quantile as ssQuantile, quantileSorted as ssQuantileSorted, quickselect } from 'simple-statistics';

/** Deterministic 32-bit generator (mulberry32) for pair sampling; uniform in [0, 1). */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The k-th smallest (0-based) of `a[lo..hi]`, moving it to index k and partitioning around it:
 * simple-statistics' `quickselect` (Floyd–Rivest), O(n) on average where a sort is O(n log n).
 */
export function selectInPlace(a: Float64Array, k: number, lo = 0, hi = a.length - 1): number {
  // quickselect only indexes and swaps elements: a Float64Array serves as well as a number[].
  quickselect(a as unknown as number[], k, lo, hi);
  return a[k] as number;
}

/** Sorts a copy ascending (numeric). */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

const clampLevel = (p: number): number => Math.min(1, Math.max(0, p));

/**
 * Quantile of ascending `sorted` at level `p` ∈ [0, 1] (clamped), linear interpolation between
 * order statistics (Hyndman & Fan type 7, the default of R, numpy and simple-statistics ≥ 7.9,
 * whose `quantileSorted` this is). NaN when empty, where simple-statistics throws.
 */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  // simple-statistics only indexes `sorted`: any array-like of numbers will do.
  return ssQuantileSorted(sorted as readonly number[], clampLevel(p));
}

/** Quantiles at each of `levels` (type 7, by selection on one copy). NaN each when empty. */
export function quantiles(values: ArrayLike<number>, levels: readonly number[]): number[] {
  if (values.length === 0) return levels.map(() => Number.NaN);
  return ssQuantile(Array.from(values), levels.map(clampLevel));
}

/** Median (simple-statistics, by selection on a copy). NaN when empty. */
export function median(values: ArrayLike<number>): number {
  if (values.length === 0) return Number.NaN;
  return ssMedian(Array.isArray(values) ? (values as readonly number[]) : Array.from(values));
}

/**
 * Inverse standard normal CDF (P. J. Acklam's rational approximation, relative error
 * < 1.2e-9 — plenty for quantile levels). Not simple-statistics' `probit`: that one inverts
 * Winitzki's erf approximation and is 0.21 % low at p = 0.99 (2.3214 for 2.3263) and 0.33 % at
 * 0.999 — enough to move a 1 − α bound and the priors' residual quantiles.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) return p <= 0 ? -Infinity : Infinity;
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  const pLow = 0.02425;
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  if (p > 1 - pLow) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
}

/** The Theil–Sen slope and how sure we are of it. */
export interface RobustSlope {
  readonly n: number;
  readonly slope: number;
  /** Sen's distribution-free interval for the slope at ±1 σ (≈ 68 %); equal to `slope` when not identifiable. */
  readonly slopeLow: number;
  readonly slopeHigh: number;
  /** False when x has fewer than two distinct values: the slope is then the fallback given. */
  readonly slopeIdentified: boolean;
  /**
   * True when Sen's two-sided ≈ 95 % interval (z = {@link SEN_Z_95}) lies above zero: larger x
   * came with measurably larger y. False when x's spread moved y less than y's own noise (the
   * pairwise slopes straddle zero), or when the slope is not identified at all.
   */
  readonly slopeAboveNoise: boolean;
}

/** A robust line `y ≈ intercept + slope × x`. */
export interface RobustLine extends RobustSlope {
  readonly intercept: number;
}

/** z of Sen's two-sided 95 % interval, for {@link RobustSlope.slopeAboveNoise}. */
export const SEN_Z_95 = 1.959963984540054;

/** Pairs beyond which Theil–Sen samples pairs instead of enumerating them (O(n²) → O(maxPairs)). */
export const THEIL_SEN_MAX_PAIRS = 40_000;

/**
 * Theil–Sen slope: the median of pairwise slopes (x distinct). Breakdown point ≈ 29 %: a
 * 383 ms stall among 14 ms arcs does not move it. Above {@link THEIL_SEN_MAX_PAIRS} pairs the
 * slopes come from that many pairs drawn with a seeded generator, an unbiased estimate of the
 * same median (O(maxPairs) instead of O(n²)).
 *
 * Sen's interval: with N pairwise slopes of distinct x, var(Kendall's S) = [n(n−1)(2n+5) −
 * Σ t(t−1)(2t+5)]/18, the sum over groups of t tied x values (Sen, "Estimates of the regression
 * coefficient based on Kendall's tau", JASA 63, 1968, §3; Hollander & Wolfe, *Nonparametric
 * Statistical Methods*, §9.4); the ±z·√var band maps to ranks (N ∓ z√var)/2 of the sorted
 * slopes. Pairs with tied x give no slope and are not among the N. When pairs are sampled the
 * ranks are scaled to the sample.
 *
 * When x is degenerate (< 2 distinct values) `fallbackSlope` is used and marked unidentified.
 */
export function theilSenSlope(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  fallbackSlope = 0,
  seed = 0x5eed,
  maxPairs = THEIL_SEN_MAX_PAIRS,
): RobustSlope {
  const n = Math.min(x.length, y.length);
  const totalPairs = (n * (n - 1)) / 2;
  let slopes: Float64Array;
  let count = 0;
  if (totalPairs <= maxPairs) {
    slopes = new Float64Array(totalPairs);
    for (let i = 0; i < n; i++) {
      const xi = x[i] as number;
      const yi = y[i] as number;
      for (let j = i + 1; j < n; j++) {
        const dx = (x[j] as number) - xi;
        if (dx !== 0) slopes[count++] = ((y[j] as number) - yi) / dx;
      }
    }
  } else {
    slopes = new Float64Array(maxPairs);
    const u = seededUniform(seed);
    for (let k = 0; k < maxPairs; k++) {
      const i = Math.floor(u() * n);
      const j = Math.floor(u() * n);
      const dx = (x[j] as number) - (x[i] as number);
      if (dx !== 0) slopes[count++] = ((y[j] as number) - (y[i] as number)) / dx;
    }
  }
  // No pair with distinct x: the data say nothing about the slope.
  if (count === 0) return { n, slope: fallbackSlope, slopeLow: fallbackSlope, slopeHigh: fallbackSlope, slopeIdentified: false, slopeAboveNoise: false };
  // Order statistics by selection, not a sort: the median (type 7) and Sen's two ranks.
  const s = slopes.subarray(0, count);
  const ties = xTies(x, n);
  const varS = (n * (n - 1) * (2 * n + 5) - ties.varTerm) / 18;
  const distinctPairs = totalPairs - ties.pairs;
  const halfWidthRank = (Math.sqrt(Math.max(0, varS)) / 2) * (count / Math.max(1, distinctPairs)); // z = 1
  const mid = (count - 1) / 2;
  const midLo = Math.floor(mid);
  const a = selectInPlace(s, midLo);
  const slope = midLo === mid ? a : (a + selectInPlace(s, midLo + 1, midLo + 1)) / 2;
  const lowRank = Math.max(0, Math.floor(mid - halfWidthRank));
  const highRank = Math.min(count - 1, Math.ceil(mid + halfWidthRank));
  const slopeLow = selectInPlace(s, lowRank, 0, midLo);
  const slopeHigh = selectInPlace(s, highRank, midLo);
  // Below lowRank everything is ≤ slopeLow after the selection above: the 95 % rank lies there.
  // A rank below the smallest slope: the interval is not bounded below by the data — with 3 or 4
  // points even all-positive slopes are as likely as 1 in 6 or 1 in 24 under no slope (Kendall's
  // exact test cannot reach 5 %), so such a slope is not above the noise.
  const lowPos95 = mid - SEN_Z_95 * halfWidthRank;
  const lowRank95 = Math.max(0, Math.floor(lowPos95));
  const slopeLow95 = selectInPlace(s, Math.min(lowRank95, lowRank), 0, lowRank);
  return { n, slope, slopeLow, slopeHigh, slopeIdentified: true, slopeAboveNoise: lowPos95 >= 0 && slopeLow95 > 0 };
}

/** Tie groups of `x[0..n)`: Σ t(t−1)(2t+5) (Sen's variance term) and Σ t(t−1)/2 (pairs with equal x). */
function xTies(x: ArrayLike<number>, n: number): { readonly varTerm: number; readonly pairs: number } {
  const sorted = Float64Array.from({ length: n }, (_, i) => x[i] as number).sort();
  let varTerm = 0;
  let pairs = 0;
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && sorted[j] === sorted[i]) j++;
    const t = j - i;
    varTerm += t * (t - 1) * (2 * t + 5);
    pairs += (t * (t - 1)) / 2;
    i = j;
  }
  return { varTerm, pairs };
}

/**
 * Whether `line` (Theil–Sen of `x`, `y`) is a slope the data identify, not noise ÷ spread: its
 * Sen 95 % interval lies above zero ({@link RobustSlope.slopeAboveNoise}), or — for a few points,
 * whose interval is too wide to say — the size spread at the `referenceSlope` we already believe
 * (a prior, the pooled fit) moves y by more than y's noise about that slope: `referenceSlope ×
 * (p90 − p10 of x) > MAD(y − referenceSlope·x)` (quantiles and MAD by simple-statistics). Sizes of
 * a few KiB against a 50 ms downtime with ±10 ms of noise (the QEMU lab's blackouts) fail both:
 * their "slope" is the noise. The noise is taken about the believed slope, not the fitted one:
 * Theil–Sen's line through 3 points passes through 2 of them, so their residuals' MAD is 0 and
 * any spread "moved y more than the noise" (a CI run's first three lab blackouts became a 4 MB/s
 * link with a 10 KB/s low rate, and bounds of 10⁸ ms).
 */
export function slopeIdentifiedAboveNoise(x: ArrayLike<number>, y: ArrayLike<number>, line: RobustSlope, referenceSlope: number): boolean {
  if (!line.slopeIdentified) return false;
  if (line.slopeAboveNoise) return true;
  if (!(referenceSlope > 0) || line.n < 2) return false;
  const [p10, p90] = quantiles(Array.from(x).slice(0, line.n), [0.1, 0.9]) as [number, number];
  return referenceSlope * (p90 - p10) > medianAbsoluteDeviation(Array.from(offsets(x, y, referenceSlope)));
}

/** `y − slope·x` for every point. */
export function offsets(x: ArrayLike<number>, y: ArrayLike<number>, slope: number): Float64Array {
  const n = Math.min(x.length, y.length);
  const r = new Float64Array(n);
  for (let i = 0; i < n; i++) r[i] = (y[i] as number) - slope * (x[i] as number);
  return r;
}

/** Theil–Sen line: {@link theilSenSlope} and intercept = median of `y − slope·x`. */
export function theilSen(x: ArrayLike<number>, y: ArrayLike<number>, fallbackSlope = 0, seed = 0x5eed, maxPairs = THEIL_SEN_MAX_PAIRS): RobustLine {
  const slope = theilSenSlope(x, y, fallbackSlope, seed, maxPairs);
  return { ...slope, intercept: quantileSorted(offsets(x, y, slope.slope).sort(), 0.5) };
}

/**
 * Value at level `p` of a quantile function stored at ascending `levels` (linear between stored
 * levels, flat beyond the ends — deliberately no extrapolation into tails we never saw).
 */
export function interpolateQuantile(levels: readonly number[], values: ArrayLike<number>, p: number): number {
  const n = levels.length;
  if (n === 0 || values.length === 0) return 0;
  if (p <= (levels[0] as number)) return values[0] as number;
  for (let i = 1; i < n; i++) {
    const li = levels[i] as number;
    if (p <= li) {
      const l0 = levels[i - 1] as number;
      const v0 = values[i - 1] as number;
      return v0 + ((p - l0) / (li - l0)) * ((values[i] as number) - v0);
    }
  }
  return values[n - 1] as number;
}
