/**
 * What the outcomes say: per policy, how often the deadline was met and how often the actual
 * blackout stayed within the predicted bound (calibration); the worst migrations; and the
 * empirical CDF of blackouts, thinned for plotting.
 */
import { quantileSorted } from '../estimators/robust.js';
import type { OutcomeRecord } from '../records/records.js';

/** One policy's outcomes summed up. */
export interface PolicyOutcomeSummary {
  readonly policy: string;
  readonly n: number;
  readonly met: number;
  /** `met / n`. */
  readonly metShare: number;
  /** Share with `actual > predicted bound`: the calibration miss rate (nominally ≤ α). */
  readonly aboveBoundShare: number;
  readonly p50BlackoutMs: number;
  readonly p99BlackoutMs: number;
  readonly maxBlackoutMs: number;
}

/** Policies in order of first appearance, each with its outcomes. */
export function byPolicy(outcomes: readonly OutcomeRecord[]): Map<string, OutcomeRecord[]> {
  const out = new Map<string, OutcomeRecord[]>();
  for (const o of outcomes) {
    let list = out.get(o.policy);
    if (list === undefined) out.set(o.policy, (list = []));
    list.push(o);
  }
  return out;
}

/** Summaries per policy, by policy name. */
export function summarisePolicies(outcomes: readonly OutcomeRecord[]): PolicyOutcomeSummary[] {
  const out: PolicyOutcomeSummary[] = [];
  for (const [policy, list] of byPolicy(outcomes)) {
    const sorted = Float64Array.from(list, (o) => o.actualBlackoutMs).sort();
    const met = list.filter((o) => o.met).length;
    const above = list.filter((o) => o.actualBlackoutMs > o.predictedBlackoutMs).length;
    out.push({
      policy,
      n: list.length,
      met,
      metShare: met / list.length,
      aboveBoundShare: above / list.length,
      p50BlackoutMs: quantileSorted(sorted, 0.5),
      p99BlackoutMs: quantileSorted(sorted, 0.99),
      maxBlackoutMs: sorted[sorted.length - 1] as number,
    });
  }
  return out.sort((a, b) => (a.policy < b.policy ? -1 : a.policy > b.policy ? 1 : 0));
}

/** `actual − deadline`, ms: positive is a miss by that much. */
export function overshootMs(o: OutcomeRecord): number {
  return o.actualBlackoutMs - o.deadlineMs;
}

/**
 * The `limit` outcomes that overshot their deadline most (misses first, then the closest
 * calls), ties by migration id. `limit` 0: all, in that order.
 */
export function worstOutcomes(outcomes: readonly OutcomeRecord[], limit: number): OutcomeRecord[] {
  const sorted = [...outcomes].sort((a, b) => overshootMs(b) - overshootMs(a) || (a.migrationId < b.migrationId ? -1 : a.migrationId > b.migrationId ? 1 : 0));
  return limit > 0 ? sorted.slice(0, limit) : sorted;
}

/** One step of an empirical CDF: share of values ≤ `value`. */
export interface EcdfPoint {
  readonly value: number;
  readonly share: number;
}

/** Number of elements of ascending `sorted` that are ≤ `v`. */
function upperBound(sorted: Float64Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The empirical CDF of `values`, at most `maxPoints` steps: every value when there are few,
 * else the values at evenly spaced ranks (the first and the last always kept), so a step
 * plot of a million blackouts stays a few hundred points and its tail stays exact.
 */
export function ecdf(values: ArrayLike<number>, maxPoints: number): EcdfPoint[] {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return [];
  const out: EcdfPoint[] = [];
  const stride = Math.max(1, (n - 1) / Math.max(1, maxPoints - 1));
  for (let r = 0; ; r += stride) {
    const i = Math.min(n - 1, Math.round(r));
    const v = sorted[i] as number;
    const last = out[out.length - 1];
    // A value's share counts all its copies: ties collapse into one step.
    if (last === undefined || last.value !== v) out.push({ value: v, share: upperBound(sorted, v) / n });
    if (i >= n - 1) break;
  }
  return out;
}
