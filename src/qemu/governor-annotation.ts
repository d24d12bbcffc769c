/**
 * The `governor` annotation of a QMP wire log: when `vfio-sla watch --drive` steered the
 * switchover (held it and committed, or cancelled), it writes one line
 *
 *   {"vfio-sla": "governor", "outcome": {...}, "attempt": {...}}
 *
 * after the migration's end, with the governor's `outcome` and `attempt` records (without `kind`
 * and `migrationId`, which the log's own id gives). The importer then makes those records instead
 * of QEMU's (`migrationToRecords`), so an import of a steered migration's log stores what `watch`
 * stored: the governor's decision, not QEMU's `expected-downtime` under policy `qemu`.
 */
import type { AttemptRecord, OutcomeRecord } from '../records/records.js';
import { ATTEMPT_STATUSES } from '../records/records.js';
import { isJsonObject, type JsonObject } from '../json/guards.js';

/** The governor's records of one migration, as its log's annotation carries them. */
export interface GovernorLog {
  readonly outcome?: Omit<OutcomeRecord, 'kind' | 'migrationId'>;
  readonly attempt?: Omit<AttemptRecord, 'kind' | 'migrationId'>;
}

/** Thrown for a `governor` annotation this module does not write. */
export class GovernorAnnotationError extends Error {}

/** Whether a parsed log line is the `governor` annotation. */
export function isGovernorAnnotation(v: JsonObject): boolean {
  return v['vfio-sla'] === 'governor';
}

/** The governor's records as the annotation carries them (without `kind` and `migrationId`). */
export function governorLog(outcome: OutcomeRecord | undefined, attempt: AttemptRecord | undefined): GovernorLog {
  const strip = <T extends { kind: string; migrationId: string }>(r: T): Omit<T, 'kind' | 'migrationId'> => {
    const { kind: _kind, migrationId: _id, ...rest } = r;
    return rest;
  };
  return { ...(outcome === undefined ? {} : { outcome: strip(outcome) }), ...(attempt === undefined ? {} : { attempt: strip(attempt) }) };
}

/** The annotation line of `log` for `watch` to write (no terminator). */
export function governorAnnotationLine(log: GovernorLog): string {
  return JSON.stringify({ 'vfio-sla': 'governor', ...log });
}

/** Reads the annotation (already JSON-parsed); throws {@link GovernorAnnotationError} naming the bad field. */
export function readGovernorAnnotation(v: JsonObject): GovernorLog {
  const o = v['outcome'];
  const a = v['attempt'];
  return {
    ...(o === undefined ? {} : { outcome: outcomeOf(o) }),
    ...(a === undefined ? {} : { attempt: attemptOf(a) }),
  };
}

function outcomeOf(v: unknown): NonNullable<GovernorLog['outcome']> {
  if (!isJsonObject(v)) throw new GovernorAnnotationError('vfio-sla governor outcome is not an object');
  const met = v['met'];
  if (typeof met !== 'boolean') throw new GovernorAnnotationError('vfio-sla governor outcome.met is not a boolean');
  return {
    policy: text(v['policy'], 'outcome.policy'),
    deadlineMs: number(v['deadlineMs'], 'outcome.deadlineMs'),
    decidedAtMs: number(v['decidedAtMs'], 'outcome.decidedAtMs'),
    predictedBlackoutMs: number(v['predictedBlackoutMs'], 'outcome.predictedBlackoutMs'),
    actualBlackoutMs: number(v['actualBlackoutMs'], 'outcome.actualBlackoutMs'),
    met,
  };
}

function attemptOf(v: unknown): NonNullable<GovernorLog['attempt']> {
  if (!isJsonObject(v)) throw new GovernorAnnotationError('vfio-sla governor attempt is not an object');
  const status = ATTEMPT_STATUSES.find((s) => s === v['status']);
  if (status === undefined) throw new GovernorAnnotationError(`vfio-sla governor attempt.status is not one of ${ATTEMPT_STATUSES.join(', ')}`);
  const bound = v['predictedBlackoutMs'];
  return {
    policy: text(v['policy'], 'attempt.policy'),
    status,
    reason: text(v['reason'], 'attempt.reason'),
    deadlineMs: number(v['deadlineMs'], 'attempt.deadlineMs'),
    totalTimeMs: number(v['totalTimeMs'], 'attempt.totalTimeMs'),
    ...(bound === undefined ? {} : { predictedBlackoutMs: number(bound, 'attempt.predictedBlackoutMs') }),
  };
}

function text(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new GovernorAnnotationError(`vfio-sla governor ${field} is not a non-empty string`);
  return v;
}

function number(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new GovernorAnnotationError(`vfio-sla governor ${field} is not a finite number`);
  return v;
}
