/**
 * Closing the loop: every committed decision gets an `outcome` record (predicted bound, actual
 * blackout, met or missed), so the estimators refit on it and calibration can be watched
 * (`shared/specs/design.md`, telemetry record `outcome`).
 */
import type { OutcomeRecord } from '../records/records.js';
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
