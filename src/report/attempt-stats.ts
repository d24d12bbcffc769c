/**
 * How every attempt ended, per policy: attempted, completed, met, missed, aborted (by reason),
 * cancelled, failed and the time spent — so a policy that avoids misses by refusing to migrate
 * shows its refusals beside its miss rate (issue 17). Attempts come from `attempt` records; met
 * and missed from the `outcome` records of completed switchovers. A store without attempt
 * records (written before they existed) counts its outcomes as its attempts.
 */
import type { AttemptRecord, OutcomeRecord } from '../records/records.js';
import { byPolicy } from './outcome-stats.js';

/** One policy's attempts summed up. */
export interface PolicyAttemptSummary {
  readonly policy: string;
  /** Attempts recorded; the outcome count when none were (`attemptsRecorded` false). */
  readonly attempted: number;
  readonly completed: number;
  /** Completed within the deadline. */
  readonly met: number;
  /** Completed over the deadline. */
  readonly missed: number;
  readonly aborted: number;
  readonly cancelled: number;
  readonly failed: number;
  /** `missed / attempted`: an abort is not a miss, so read it with {@link abortedShare}. */
  readonly missRate: number;
  /** `met / attempted`: what the operator got. */
  readonly usefulShare: number;
  readonly abortedShare: number;
  /** Aborts by reason, most frequent first. */
  readonly abortReasons: readonly { readonly reason: string; readonly count: number }[];
  /** Mean total time over every attempt (start to the VM running on the destination, or to the end), ms; NaN without attempts. */
  readonly meanTotalTimeMs: number;
  /** Sum of total times, ms. */
  readonly totalTimeMs: number;
  /** Whether attempt records exist for this policy (else the counts are the outcomes'). */
  readonly attemptsRecorded: boolean;
}

/** Summaries per policy (every policy with attempts or outcomes), by policy name. */
export function summariseAttempts(attempts: readonly AttemptRecord[], outcomes: readonly OutcomeRecord[]): PolicyAttemptSummary[] {
  const attemptsBy = new Map<string, AttemptRecord[]>();
  for (const a of attempts) {
    let list = attemptsBy.get(a.policy);
    if (list === undefined) attemptsBy.set(a.policy, (list = []));
    list.push(a);
  }
  const outcomesBy = byPolicy(outcomes);
  const names = [...new Set([...attemptsBy.keys(), ...outcomesBy.keys()])].sort();
  return names.map((policy) => summarise(policy, attemptsBy.get(policy) ?? [], outcomesBy.get(policy) ?? []));
}

function summarise(policy: string, attempts: readonly AttemptRecord[], outcomes: readonly OutcomeRecord[]): PolicyAttemptSummary {
  // The latest outcome of each migration decides met or missed (a retried switchover has several).
  const latest = new Map<string, OutcomeRecord>();
  for (const o of outcomes) {
    const seen = latest.get(o.migrationId);
    if (seen === undefined || o.decidedAtMs >= seen.decidedAtMs) latest.set(o.migrationId, o);
  }
  const met = [...latest.values()].filter((o) => o.met).length;
  const missed = latest.size - met;
  const recorded = attempts.length > 0;
  const count = (status: AttemptRecord['status']): number => attempts.filter((a) => a.status === status).length;
  const attempted = recorded ? attempts.length : latest.size;
  const reasons = new Map<string, number>();
  for (const a of attempts) if (a.status === 'aborted') reasons.set(a.reason, (reasons.get(a.reason) ?? 0) + 1);
  const aborted = count('aborted');
  const totalTimeMs = attempts.reduce((s, a) => s + a.totalTimeMs, 0);
  return {
    policy,
    attempted,
    completed: recorded ? count('completed') : latest.size,
    met,
    missed,
    aborted,
    cancelled: count('cancelled'),
    failed: count('failed'),
    missRate: attempted === 0 ? 0 : missed / attempted,
    usefulShare: attempted === 0 ? 0 : met / attempted,
    abortedShare: attempted === 0 ? 0 : aborted / attempted,
    abortReasons: [...reasons].map(([reason, n]) => ({ reason, count: n })).sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1)),
    meanTotalTimeMs: recorded ? totalTimeMs / attempts.length : Number.NaN,
    totalTimeMs,
    attemptsRecorded: recorded,
  };
}
