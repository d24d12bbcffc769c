/**
 * Fleet metrics per policy, defined precisely:
 * - attempted: every migration of the fleet (each policy gets all of them);
 * - completed: the switchover happened (the VM runs on the destination);
 * - missed: completed with blackout > deadline;
 * - **miss rate = missed / attempted** (an aborted migration is not a miss: the VM kept running
 *   on the source, it was not paused); `missRateOfCompleted` = missed / completed;
 * - aborted share = aborted / attempted;
 * - **useful share = (completed − missed) / attempted**: migrations that completed within their
 *   deadline, what an operator draining a host gets;
 * - blackout p50/p99 (type-7 quantiles) and mean total migration time (start to the VM running
 *   on the destination), over completed migrations.
 */
import { quantileSorted, sortedCopy } from '../../estimators/robust.js';
import type { MigrationResult } from './run-migration.js';

/** One policy over one fleet. */
export interface PolicySummary {
  readonly policy: string;
  readonly attempted: number;
  readonly completed: number;
  readonly missed: number;
  readonly aborted: number;
  readonly missRate: number;
  readonly missRateOfCompleted: number;
  readonly abortedShare: number;
  /** Completed within the deadline ÷ attempted. */
  readonly usefulShare: number;
  /** NaN when nothing completed. */
  readonly blackoutP50Ms: number;
  readonly blackoutP99Ms: number;
  readonly meanTotalTimeMs: number;
  /** Switchovers brought back before STOP_COPY (the governor's overrun check). */
  readonly unwinds: number;
  /** Share of migrations a throttle slowed the guest in (auto-converge or dirty-limit). */
  readonly throttledShare: number;
  /** Mean over migrations of the largest guest slowdown, in [0, 1]. */
  readonly meanMaxSlowdown: number;
  /** Abort reasons and how often. */
  readonly abortReasons: Readonly<Record<string, number>>;
}

/** Summarises one policy's results. */
export function summarize(policy: string, results: readonly MigrationResult[]): PolicySummary {
  const done = results.filter((r) => r.completed);
  const missed = done.filter((r) => r.met === false).length;
  const n = results.length;
  const blackouts = sortedCopy(done.map((r) => r.blackoutMs ?? 0));
  const abortReasons: Record<string, number> = {};
  for (const r of results) {
    if (r.abortReason === null) continue;
    const key = r.abortReason.split(':')[0] ?? r.abortReason;
    abortReasons[key] = (abortReasons[key] ?? 0) + 1;
  }
  return {
    policy,
    attempted: n,
    completed: done.length,
    missed,
    aborted: n - done.length,
    missRate: n === 0 ? 0 : missed / n,
    missRateOfCompleted: done.length === 0 ? 0 : missed / done.length,
    abortedShare: n === 0 ? 0 : (n - done.length) / n,
    usefulShare: n === 0 ? 0 : (done.length - missed) / n,
    blackoutP50Ms: quantileSorted(blackouts, 0.5),
    blackoutP99Ms: quantileSorted(blackouts, 0.99),
    meanTotalTimeMs: mean(done.map((r) => r.totalTimeMs)),
    unwinds: results.reduce((s, r) => s + r.unwinds, 0),
    throttledShare: n === 0 ? 0 : results.filter((r) => r.maxSlowdown > 0).length / n,
    meanMaxSlowdown: mean(results.map((r) => r.maxSlowdown)),
    abortReasons,
  };
}

/** Mean total time of `a` over mean of `b`, on the migrations both completed (same VM ids). */
export function pairedTimeRatio(
  a: readonly MigrationResult[],
  b: readonly MigrationResult[],
): { readonly ratio: number; readonly pairs: number; readonly sumAMs: number; readonly sumBMs: number } {
  const bById = new Map(b.filter((r) => r.completed).map((r) => [r.vmId, r]));
  let sumA = 0;
  let sumB = 0;
  let pairs = 0;
  for (const r of a) {
    const other = bById.get(r.vmId);
    if (!r.completed || other === undefined) continue;
    sumA += r.totalTimeMs;
    sumB += other.totalTimeMs;
    pairs++;
  }
  return { ratio: sumB > 0 ? sumA / sumB : Number.NaN, pairs, sumAMs: sumA, sumBMs: sumB };
}

function mean(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}
