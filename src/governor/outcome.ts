/**
 * Closing the loop: every committed decision gets an `outcome` record (predicted bound, actual
 * blackout, met or missed), so the estimators refit on it and calibration can be watched
 * (`shared/specs/design.md`, telemetry record `outcome`).
 */
import type { AttemptRecord, AttemptStatus, OutcomeRecord } from '../records/records.js';
import { GovernorError } from './errors.js';
import type { Decision } from './types.js';

/** The `policy` of outcomes the governor decided. */
export const GOVERNOR_POLICY = 'governor';

/**
 * The outcome record of a committed `decision` made at `decidedAtMs`, whose blackout turned out
 * to last `actualBlackoutMs` (guest paused to guest running on the destination).
 * `met` is `actualBlackoutMs ≤ decision.deadlineMs`.
 */
export function outcomeRecord(
  migrationId: string,
  decision: Decision,
  decidedAtMs: number,
  actualBlackoutMs: number,
  policy: string = GOVERNOR_POLICY,
): OutcomeRecord {
  if (!(actualBlackoutMs >= 0) || actualBlackoutMs === Infinity) {
    throw new GovernorError('E_BAD_REQUEST', `actualBlackoutMs must be a finite number ≥ 0, got ${String(actualBlackoutMs)}`);
  }
  if (decision.action !== 'commit') {
    throw new GovernorError('E_BAD_REQUEST', `only a committed decision has a blackout; this one was ${decision.action} ${decision.reason}`);
  }
  return {
    kind: 'outcome',
    migrationId,
    policy,
    deadlineMs: decision.deadlineMs,
    decidedAtMs,
    predictedBlackoutMs: decision.predictedBlackoutMs,
    actualBlackoutMs,
    met: actualBlackoutMs <= decision.deadlineMs,
  };
}

/**
 * The attempt record of a migration that ended — completed, aborted (the governor's `abort`, or
 * the budget), cancelled or failed — with `last`, the last decision taken for it (its reason and
 * bound are recorded; `null` when none was taken), and the time from the migration's start to
 * its end. Push it for every migration, beside the {@link outcomeRecord} of a completed one, so
 * aborts are counted where misses are (`stats`, the report). `reason` defaults to the decision's.
 */
export function attemptRecord(
  migrationId: string,
  last: Decision | null,
  end: { readonly status: AttemptStatus; readonly totalTimeMs: number; readonly deadlineMs?: number; readonly reason?: string },
  policy: string = GOVERNOR_POLICY,
): AttemptRecord {
  if (!(end.totalTimeMs >= 0) || end.totalTimeMs === Infinity) {
    throw new GovernorError('E_BAD_REQUEST', `totalTimeMs must be a finite number ≥ 0, got ${String(end.totalTimeMs)}`);
  }
  const deadlineMs = end.deadlineMs ?? last?.deadlineMs;
  if (deadlineMs === undefined) throw new GovernorError('E_BAD_REQUEST', 'an attempt without a decision needs its deadlineMs');
  const reason = end.reason ?? last?.reason;
  if (reason === undefined || reason.length === 0) throw new GovernorError('E_BAD_REQUEST', 'an attempt without a decision needs a reason');
  const bound = last?.predictedBlackoutMs;
  return {
    kind: 'attempt',
    migrationId,
    policy,
    status: end.status,
    reason,
    deadlineMs,
    totalTimeMs: end.totalTimeMs,
    ...(bound === undefined || !Number.isFinite(bound) ? {} : { predictedBlackoutMs: bound }),
  };
}
