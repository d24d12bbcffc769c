/**
 * Conformal calibration of the blackout bound, and the drift check that says when its
 * assumption no longer holds.
 *
 * Scores are `s = ln(actual / predictedMedian)` of migrations the point model was not fitted on.
 * For a new migration, `bound = median × exp(s₍ₖ₎)` with `k = ⌈(n+1)(1−α)⌉` the conformal rank
 * (Vovk, Gammerman & Shafer, *Algorithmic Learning in a Random World*, 2005; Lei et al., JASA
 * 2018). If the new migration is **exchangeable** with the n scored ones, `P(actual ≤ bound) ≥
 * 1 − α`. With fewer than `1/α − 1` scores the rank exceeds n and no conformal bound exists: the
 * predictor then says `calibrated: false` and uses its conservative bound.
 *
 * Why a log ratio: the blackout's spread is mostly multiplicative — transfer outliers scale with
 * the bytes (1 run in 10 at ×1.5–3, switchover-today.md §5 #2), device-arc tails with the arc. A
 * fixed-size stall on a small blackout does give a large ratio (+370 ms on a 26 ms blackout is
 * ×15); hybrid scores `ln((actual + c) / (median + c))` (c = 10–100 ms, or the fixed
 * cost) and scores normalised by the model's own spread were compared on the fleet simulator
 * (seeds 1–5, held-out QEMU decisions): none let more switchovers fit at the same coverage, so the
 * score stays. Whatever the score, the guarantee is marginal (over the mix of migrations), not
 * per query.
 *
 * How many scores: the bound is the ⌈(n+1)(1−α)⌉-th smallest, so for α = 0.01 and n ≈ 220 it is
 * the 2nd largest — one rare blackout among the calibration migrations moves it (×2.2 to ×8 on
 * the simulator's fleet seeds, against ×3.4 for the pooled 99th percentile). That variance is
 * what a finite-sample, distribution-free bound costs; only more calibration migrations (or a
 * larger α) reduce it. Splitting the scores by stratum (device model, link) would leave most
 * strata under the `1/α − 1` scores a bound needs, so they stay pooled.
 *
 * Exchangeability breaks when the world changes (firmware, link, load, QEMU version). Then the
 * miss rate of recent bounds rises above α; {@link driftTest} detects it with an exact one-sided
 * test (Beta-binomial when the bounds share one calibration set, binomial otherwise), and the
 * remedy is {@link recalibrate}: replace the scores by those of the recent migrations (they
 * were predicted by a model not fitted on them, so they are valid conformal scores for the world
 * as it is now), or refit when the point model itself is off.
 */
import { gammaln } from 'simple-statistics';
import { EstimatorError } from './errors.js';
import { MIN_STACK_CALIBRATION, type CalibrationModel, type FittedModel, type StackCalibration } from './types.js';

/** Floor for times in log ratios, ms (1 µs): a 0 ms prediction or outcome stays finite. */
export const MIN_SCORED_MS = 1e-3;

/** ⌈(n+1)(1−α)⌉, robust to floating error ((39+1)·0.9 is 36.000000000000004). */
export function conformalRank(n: number, alpha: number): number {
  return Math.ceil((n + 1) * (1 - alpha) - 1e-9);
}

/** The calibration score of one migration: ln(actual / median). */
export function logRatioScore(actualMs: number, medianMs: number): number {
  return Math.log(Math.max(MIN_SCORED_MS, actualMs) / Math.max(MIN_SCORED_MS, medianMs));
}

/** The conformal score quantile for α, or undefined when there are too few scores. */
export function conformalQuantile(sortedScores: ArrayLike<number>, alpha: number): number | undefined {
  const rank = conformalRank(sortedScores.length, alpha);
  return rank >= 1 && rank <= sortedScores.length ? (sortedScores[rank - 1] as number) : undefined;
}

/** Smallest number of scores for which a 1 − α conformal bound exists: ⌈1/α⌉ − 1. */
export function minCalibrationSize(alpha: number): number {
  let n = 0;
  while (conformalRank(n, alpha) > n) n++;
  return n;
}

/**
 * A {@link CalibrationModel} from unsorted scores. `links`: the links the scored predictions used
 * (omitted: the calibration says nothing about links and checks none).
 */
export function calibrationFromScores(
  scores: readonly number[],
  method: NonNullable<CalibrationModel['method']>,
  deviceModels: readonly string[],
  links?: readonly string[],
  stacks?: readonly string[],
): CalibrationModel {
  const sorted = [...scores].sort((a, b) => a - b);
  const byStack = stacks === undefined ? undefined : stackGroups(scores, stacks);
  return {
    logRatioScores: sorted,
    n: sorted.length,
    deviceModels: [...new Set(deviceModels)].sort(),
    ...(links === undefined ? {} : { links: [...new Set(links)].sort() }),
    method,
    ...(byStack === undefined ? {} : { byStack }),
  };
}

/** `scores[i]` grouped by `stacks[i]`, each group of at least {@link MIN_STACK_CALIBRATION}; undefined when none is. */
function stackGroups(scores: readonly number[], stacks: readonly string[]): Record<string, StackCalibration> | undefined {
  const groups = new Map<string, number[]>();
  scores.forEach((s, i) => {
    const key = stacks[i] as string;
    const g = groups.get(key) ?? [];
    g.push(s);
    groups.set(key, g);
  });
  const out: Record<string, StackCalibration> = {};
  for (const key of [...groups.keys()].sort()) {
    const g = (groups.get(key) as number[]).sort((a, b) => a - b);
    if (g.length >= MIN_STACK_CALIBRATION) out[key] = { n: g.length, logRatioScores: g };
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** P(X ≥ k) for X ~ Binomial(n, p), exact (log-space sum, no underflow for large n). */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  // log pmf(i), built up from log pmf(0) = n·ln(1−p).
  let logPmf = n * lq;
  let maxLog = -Infinity;
  const logs: number[] = [];
  for (let i = 1; i <= n; i++) {
    logPmf += Math.log((n - i + 1) / i) + lp - lq;
    if (i >= k) {
      logs.push(logPmf);
      if (logPmf > maxLog) maxLog = logPmf;
    }
  }
  let sum = 0;
  for (const l of logs) sum += Math.exp(l - maxLog);
  return Math.min(1, Math.exp(maxLog) * sum);
}

/**
 * P(X ≥ k) for X ~ Beta-binomial(n, a, b): the misses among n new migrations of a bound whose
 * miscoverage is itself Beta(a, b) distributed. Exact sum of the pmf in log space,
 * `ln C(n,i) + ln B(i+a, n−i+b) − ln B(a,b)` with simple-statistics' `gammaln`.
 */
export function betaBinomialUpperTail(k: number, n: number, a: number, b: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  const lnBeta = (x: number, y: number): number => gammaln(x) + gammaln(y) - gammaln(x + y);
  const lnB0 = lnBeta(a, b);
  const lnFactN = gammaln(n + 1);
  const logs: number[] = [];
  let maxLog = -Infinity;
  for (let i = k; i <= n; i++) {
    const l = lnFactN - gammaln(i + 1) - gammaln(n - i + 1) + lnBeta(i + a, n - i + b) - lnB0;
    logs.push(l);
    if (l > maxLog) maxLog = l;
  }
  let sum = 0;
  for (const l of logs) sum += Math.exp(l - maxLog);
  return Math.min(1, Math.exp(maxLog) * sum);
}

/** Options of {@link driftTest}. */
export interface DriftTestOptions {
  /** Level of the test (default 0.01: one false alarm in a hundred checks of a healthy model). */
  readonly significance?: number;
  /**
   * Number of calibration scores the bounds came from, when they all came from one fixed set (a
   * fitted model's calibration): the test then accounts for that set's own luck (below).
   */
  readonly calibrationSize?: number;
}

/** Result of {@link driftTest}. */
export interface DriftTest {
  readonly n: number;
  readonly misses: number;
  readonly missRate: number;
  readonly alpha: number;
  /** P(≥ misses | the bound really holds with 1 − α): small means the bound no longer holds. */
  readonly pValue: number;
  /** True when pValue < significance: recalibrate (or refit) before trusting the bound again. */
  readonly recalibrate: boolean;
}

/**
 * Tests recent (bound, actual) pairs for drift: H0 "the bounds still hold as calibrated". With
 * `misses` of `n` exceeding:
 * - bounds from one fixed set of `calibrationSize` = N scores (a fitted model): given that set,
 *   the bound's miscoverage is not α but a random M ~ Beta(N + 1 − k, k), k = ⌈(N+1)(1−α)⌉ (the
 *   conformal rank; Vovk 2012, "Conditional validity of inductive conformal predictors"), and
 *   every new migration shares it — misses are Beta-binomial(n, N+1−k, k), overdispersed against
 *   Binomial(n, α). The p-value is P(Beta-binomial ≥ misses), so a healthy model raises an alarm
 *   with probability ≤ `significance` per check (a binomial test at N = 220, n = 500, α = 0.01
 *   alarmed 5.5 % of the time at a nominal 1 %);
 * - otherwise (bounds from changing calibrations, each exact at α): P(Binomial(n, α) ≥ misses).
 * `recalibrate` when the p-value is below `significance` (default 0.01). Each call is one test:
 * checking a sliding window after every outcome repeats it, and alarms over a long healthy run
 * add up accordingly. Feed it a sliding window (the last 100–500 outcomes): old pairs hide new drift.
 */
export function driftTest(
  pairs: Iterable<{ readonly boundMs: number; readonly actualMs: number }>,
  alpha: number,
  options: number | DriftTestOptions = 0.01,
): DriftTest {
  const significance = typeof options === 'number' ? options : (options.significance ?? 0.01);
  const calibrationSize = typeof options === 'number' ? undefined : options.calibrationSize;
  if (calibrationSize !== undefined && !(Number.isInteger(calibrationSize) && calibrationSize >= 1)) {
    throw new EstimatorError('E_BAD_ARGUMENT', `calibrationSize must be an integer ≥ 1, got ${String(calibrationSize)}`);
  }
  if (!(alpha > 0 && alpha < 1)) throw new EstimatorError('E_BAD_ARGUMENT', `alpha must be in (0, 1), got ${String(alpha)}`);
  let n = 0;
  let misses = 0;
  for (const p of pairs) {
    n++;
    if (p.actualMs > p.boundMs) misses++;
  }
  const rank = calibrationSize === undefined ? undefined : conformalRank(calibrationSize, alpha);
  const pValue =
    calibrationSize === undefined || rank === undefined || rank > calibrationSize || rank < 1
      ? binomialUpperTail(misses, n, alpha)
      : betaBinomialUpperTail(misses, n, calibrationSize + 1 - rank, rank);
  return { n, misses, missRate: n === 0 ? 0 : misses / n, alpha, pValue, recalibrate: pValue < significance };
}

/**
 * Replaces a model's calibration with scores of migrations observed after it was fitted
 * (`medianMs` = what the model predicted for them, `actualMs` = what happened): the online
 * remedy for drift that keeps the point model. `deviceModels`: those present in these migrations;
 * `links`: the links their predictions used (omitted: no link check).
 */
export function recalibrate(
  model: FittedModel,
  pairs: readonly { readonly medianMs: number; readonly actualMs: number }[],
  deviceModels: readonly string[],
  links?: readonly string[],
): FittedModel {
  const scores = pairs.map((p) => logRatioScore(p.actualMs, p.medianMs));
  return { ...model, calibration: calibrationFromScores(scores, 'online', deviceModels, links) };
}
