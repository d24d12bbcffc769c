/**
 * The report's table of the worst outcomes, each with the arcs of its blackout that overran
 * their (device model, arc) line the most — the answer to "which arc blew our downtime".
 */
import type { BlackoutArc, BlackoutBreakdown } from './breakdown.js';
import { formatMs } from './stats-tables.js';
import { escapeHtml, htmlTable, type Column } from './table-format.js';

/** Arcs listed per outcome (the rest are summed up in one line). */
export const ARCS_LISTED = 4;

/** `mlx5-cx7 0000:3b:00.1 PRE_COPY_P2P>STOP_COPY 412 ms (line 14.2 ms, +398 ms)`. */
export function describeArc(a: BlackoutArc): string {
  const line = a.expectedMs === null ? 'no line' : `line ${formatMs(a.expectedMs)} ms, ${(a.excessMs ?? 0) >= 0 ? '+' : ''}${formatMs(a.excessMs)} ms`;
  const failed = a.ok ? '' : ` FAILED${a.errno === undefined ? '' : ` ${a.errno}`}`;
  return `${a.deviceModel} ${a.deviceId} ${a.arc} ${formatMs(a.latencyMs)} ms (${line})${failed}`;
}

function arcsHtml(b: BlackoutBreakdown): string {
  if (b.arcs.length === 0) return '<span class="note">no arcs recorded</span>';
  const items = b.arcs.slice(0, ARCS_LISTED).map((a) => `<li${a.ok ? '' : ' class="missed"'}>${escapeHtml(describeArc(a))}</li>`);
  const rest = b.arcs.length - ARCS_LISTED;
  const next = b.arcs[ARCS_LISTED]?.excessMs ?? null;
  const tail = rest > 0 ? `<div class="note">and ${rest} more arcs${next === null ? '' : `, none more than ${formatMs(next)} ms over its line`}</div>` : '';
  const from = b.arcsFrom === 'migration' ? '<span class="note">(arcs and outcome on different clocks: all arcs of the migration)</span>' : '';
  return `<ol>${items.join('')}</ol>${tail}${from}`;
}

const COLUMNS: readonly Column<BlackoutBreakdown>[] = [
  { key: 'migration_id', title: 'migration', value: (b) => b.outcome.migrationId },
  { key: 'policy', title: 'policy', value: (b) => b.outcome.policy },
  { key: 'deadline_ms', title: 'deadline ms', value: (b) => b.outcome.deadlineMs, text: (b) => formatMs(b.outcome.deadlineMs) },
  { key: 'predicted_bound_ms', title: 'bound ms', value: (b) => b.outcome.predictedBlackoutMs, text: (b) => formatMs(b.outcome.predictedBlackoutMs) },
  { key: 'actual_blackout_ms', title: 'actual ms', value: (b) => b.outcome.actualBlackoutMs, text: (b) => formatMs(b.outcome.actualBlackoutMs) },
  {
    key: 'over_deadline_ms',
    title: 'over deadline ms',
    value: (b) => b.overshootMs,
    html: (b) => (b.overshootMs > 0 ? `<span class="missed">+${formatMs(b.overshootMs)}</span>` : `${formatMs(b.overshootMs)} (met)`),
  },
  { key: 'stop_copy_transfer_ms', title: 'stop-copy transfer ms', value: (b) => b.stopCopyTransferMs, text: (b) => formatMs(b.stopCopyTransferMs) },
  { key: 'arcs', title: 'arcs of the blackout, most over their line first', value: (b) => b.arcs.length, html: arcsHtml, align: 'left' },
];

/** The worst-outcomes table. */
export function worstTableHtml(rows: readonly BlackoutBreakdown[]): string {
  return htmlTable(COLUMNS, rows, 'data worst');
}
