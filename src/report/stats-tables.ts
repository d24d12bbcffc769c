/**
 * The two tables of `vfio-sla stats` and the report: latency per (device model, arc), and per
 * migration the predicted bound against the actual blackout. Raw values keep the store's units
 * (ms, bytes) and full precision; human text rounds and shows slopes in ms per MB.
 */
import type { OutcomeRecord } from '../records/records.js';
import type { ArcStats } from './arc-stats.js';
import type { PolicyAttemptSummary } from './attempt-stats.js';
import { overshootMs, type PolicyOutcomeSummary } from './outcome-stats.js';
import type { Column } from './table-format.js';

/** Bytes in the MB (10⁶ bytes) the human tables show sizes and slopes in. */
export const BYTES_PER_MB = 1_000_000;

/** A duration, ms, to a few significant digits; `—` for null. */
export function formatMs(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
}

/** A share as a percentage with one decimal, written as everywhere else in vfio-sla: `1.0 %`. */
export function formatShare(v: number): string {
  return `${(v * 100).toFixed(1)} %`;
}

/** Three significant digits, plain notation for everyday magnitudes. */
export function formatSig(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '—';
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6 ? String(Number(v.toPrecision(3))) : v.toPrecision(3);
}

/** Columns of the per (device model, arc) table. */
export const ARC_COLUMNS: readonly Column<ArcStats>[] = [
  { key: 'device_model', title: 'device model', value: (r) => r.deviceModel },
  { key: 'arc', title: 'arc', value: (r) => r.arc },
  { key: 'n', title: 'n', value: (r) => r.n },
  { key: 'fail_share', title: 'failed', value: (r) => r.failShare, text: (r) => (r.failed === 0 ? '0' : `${r.failed} (${formatShare(r.failShare)})`), align: 'right' },
  { key: 'p50_ms', title: 'p50 ms', value: (r) => r.p50Ms, text: (r) => formatMs(r.p50Ms), align: 'right' },
  { key: 'p90_ms', title: 'p90 ms', value: (r) => r.p90Ms, text: (r) => formatMs(r.p90Ms), align: 'right' },
  { key: 'p99_ms', title: 'p99 ms', value: (r) => r.p99Ms, text: (r) => formatMs(r.p99Ms), align: 'right' },
  { key: 'max_ms', title: 'max ms', value: (r) => r.maxMs, text: (r) => formatMs(r.maxMs), align: 'right' },
  { key: 'fixed_ms', title: 'fixed ms', value: (r) => r.fixedMs, text: (r) => formatMs(r.fixedMs), align: 'right' },
  {
    key: 'slope_ms_per_byte',
    title: 'slope ms/MB',
    value: (r) => r.slopeMsPerByte,
    text: (r) => formatSig(r.slopeMsPerByte === null ? null : r.slopeMsPerByte * BYTES_PER_MB),
    align: 'right',
  },
];

/** Columns of the per-migration table (one row per outcome). */
export const OUTCOME_COLUMNS: readonly Column<OutcomeRecord>[] = [
  { key: 'migration_id', title: 'migration', value: (r) => r.migrationId },
  { key: 'policy', title: 'policy', value: (r) => r.policy },
  { key: 'deadline_ms', title: 'deadline ms', value: (r) => r.deadlineMs, text: (r) => formatMs(r.deadlineMs) },
  { key: 'predicted_bound_ms', title: 'bound ms', value: (r) => r.predictedBlackoutMs, text: (r) => formatMs(r.predictedBlackoutMs) },
  { key: 'actual_blackout_ms', title: 'actual ms', value: (r) => r.actualBlackoutMs, text: (r) => formatMs(r.actualBlackoutMs) },
  {
    key: 'over_deadline_ms',
    title: 'over deadline ms',
    value: (r) => overshootMs(r),
    text: (r) => (overshootMs(r) > 0 ? `+${formatMs(overshootMs(r))}` : formatMs(overshootMs(r))),
  },
  { key: 'within_bound', title: 'within bound', value: (r) => r.actualBlackoutMs <= r.predictedBlackoutMs, text: (r) => (r.actualBlackoutMs <= r.predictedBlackoutMs ? 'yes' : 'NO') },
  { key: 'met', title: 'deadline', value: (r) => r.met, text: (r) => (r.met ? 'met' : 'MISSED') },
];

/** Columns of the per-policy table. */
export const POLICY_COLUMNS: readonly Column<PolicyOutcomeSummary>[] = [
  { key: 'policy', title: 'policy', value: (r) => r.policy },
  { key: 'n', title: 'outcomes', value: (r) => r.n },
  { key: 'met_share', title: 'met', value: (r) => r.metShare, text: (r) => formatShare(r.metShare), align: 'right' },
  { key: 'above_bound_share', title: 'above bound', value: (r) => r.aboveBoundShare, text: (r) => formatShare(r.aboveBoundShare), align: 'right' },
  { key: 'p50_blackout_ms', title: 'p50 blackout ms', value: (r) => r.p50BlackoutMs, text: (r) => formatMs(r.p50BlackoutMs), align: 'right' },
  { key: 'p99_blackout_ms', title: 'p99 blackout ms', value: (r) => r.p99BlackoutMs, text: (r) => formatMs(r.p99BlackoutMs), align: 'right' },
  { key: 'max_blackout_ms', title: 'max blackout ms', value: (r) => r.maxBlackoutMs, text: (r) => formatMs(r.maxBlackoutMs), align: 'right' },
];

/** Aborts by reason as one cell: `DEADLINE_UNREACHABLE 120, BUDGET_SPENT 3`. */
function reasonsText(r: PolicyAttemptSummary): string {
  return r.abortReasons.length === 0 ? '—' : r.abortReasons.map((x) => `${x.reason} ${x.count}`).join(', ');
}

/** Columns of the per-policy attempts table: every attempt, aborts beside misses. */
export const ATTEMPT_COLUMNS: readonly Column<PolicyAttemptSummary>[] = [
  { key: 'policy', title: 'policy', value: (r) => r.policy },
  { key: 'attempted', title: 'attempted', value: (r) => r.attempted, text: (r) => (r.attemptsRecorded ? String(r.attempted) : `${r.attempted}*`), align: 'right' },
  { key: 'completed', title: 'completed', value: (r) => r.completed, align: 'right' },
  { key: 'met', title: 'met', value: (r) => r.met, align: 'right' },
  { key: 'missed', title: 'missed', value: (r) => r.missed, align: 'right' },
  { key: 'miss_rate', title: 'miss rate', value: (r) => r.missRate, text: (r) => formatShare(r.missRate), align: 'right' },
  { key: 'aborted', title: 'aborted', value: (r) => r.aborted, align: 'right' },
  { key: 'aborted_share', title: 'aborted share', value: (r) => r.abortedShare, text: (r) => formatShare(r.abortedShare), align: 'right' },
  { key: 'cancelled', title: 'cancelled', value: (r) => r.cancelled, align: 'right' },
  { key: 'failed', title: 'failed', value: (r) => r.failed, align: 'right' },
  { key: 'mean_total_time_ms', title: 'mean total time s', value: (r) => r.meanTotalTimeMs, text: (r) => (Number.isFinite(r.meanTotalTimeMs) ? (r.meanTotalTimeMs / 1000).toFixed(1) : '—'), align: 'right' },
  { key: 'abort_reasons', title: 'aborted by reason', value: (r) => reasonsText(r) },
];
