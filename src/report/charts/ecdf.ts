/**
 * Empirical CDF of the actual blackout, one step line per policy, against the deadline: in ms
 * with the deadline drawn when every outcome had the same one, else as blackout ÷ deadline
 * with the deadline at 1.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { OutcomeRecord } from '../../records/records.js';
import { byPolicy, ecdf, summarisePolicies } from '../outcome-stats.js';
import { formatMs, formatShare } from '../stats-tables.js';
import { subtitleLines } from './render.js';

/** Plot width, px. */
const ECDF_WIDTH_PX = 620;

/** Steps per policy at most (default 500). */
export const ECDF_MAX_POINTS = 500;

/** How the x axis is scaled: ms with one deadline, or relative to each migration's deadline. */
export type EcdfScale = { readonly kind: 'ms'; readonly deadlineMs: number } | { readonly kind: 'ratio' };

/** `ms` when every outcome had the same deadline, else `ratio`. */
export function ecdfScale(outcomes: readonly OutcomeRecord[]): EcdfScale {
  const first = outcomes[0];
  if (first === undefined) return { kind: 'ratio' };
  return outcomes.every((o) => o.deadlineMs === first.deadlineMs) ? { kind: 'ms', deadlineMs: first.deadlineMs } : { kind: 'ratio' };
}

/** Legend label of a policy: name, share of deadlines met, count. */
export function policyLabel(policy: string, metShare: number, n: number): string {
  return `${policy}: ${formatShare(metShare)} met (n = ${n.toLocaleString('en-US')})`;
}

/** The ECDF chart; `maxPoints` steps per policy at most. */
export function ecdfSpec(outcomes: readonly OutcomeRecord[], maxPoints = ECDF_MAX_POINTS): TopLevelSpec {
  const scale = ecdfScale(outcomes);
  const summaries = new Map(summarisePolicies(outcomes).map((s) => [s.policy, s]));
  const rows: Array<{ policy: string; value: number; share: number }> = [];
  for (const [policy, list] of [...byPolicy(outcomes)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const s = summaries.get(policy);
    const label = policyLabel(policy, s?.metShare ?? 0, list.length);
    const values = list.map((o) => (scale.kind === 'ms' ? o.actualBlackoutMs : o.actualBlackoutMs / o.deadlineMs));
    for (const p of ecdf(values, maxPoints)) rows.push({ policy: label, value: p.value, share: p.share });
  }
  const deadline = scale.kind === 'ms' ? scale.deadlineMs : 1;
  // A long tail (one 9 s blackout among 300 ms ones) would take most of a linear axis: log
  // keeps the deadline region readable and still draws the tail, counted in the subtitle.
  const values = rows.map((r) => r.value).sort((a, b) => a - b);
  const medianValue = values[Math.floor(values.length / 2)] ?? 0;
  const maxValue = values[values.length - 1] ?? 0;
  const logX = medianValue > 0 && maxValue > 10 * medianValue;
  const beyond = outcomes.filter((o) => (scale.kind === 'ms' ? o.actualBlackoutMs : o.actualBlackoutMs / o.deadlineMs) > 3 * deadline).length;
  const unit = scale.kind === 'ms' ? ' ms' : '× its deadline';
  const xTitle = `${scale.kind === 'ms' ? 'actual blackout (ms)' : 'actual blackout / its deadline (1 = deadline)'}${logX ? ', log scale' : ''}`;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Blackout per policy against the deadline (empirical CDF)',
      subtitle: subtitleLines(
        [
          scale.kind === 'ms'
            ? `Share of migrations whose blackout was at most x; every migration had a ${formatMs(deadline)} ms deadline (dashed). Right of it: missed.`
            : 'Share of migrations whose blackout was at most x times their own deadline (dashed at 1). Right of it: missed.',
          `${beyond.toLocaleString('en-US')} of ${outcomes.length.toLocaleString('en-US')} blackouts were over 3× the deadline; the longest ${formatMs(maxValue)}${unit}.${logX ? ' The x axis is logarithmic so that the tail does not squeeze the rest.' : ''}`,
        ],
        ECDF_WIDTH_PX,
      ),
    },
    width: ECDF_WIDTH_PX,
    height: 300,
    layer: [
      {
        data: { values: rows },
        mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
        encoding: {
          x: { field: 'value', type: 'quantitative', title: xTitle, scale: logX ? { type: 'log' } : { zero: false } },
          y: { field: 'share', type: 'quantitative', title: 'share of migrations (cumulative)', axis: { format: '.0%' }, scale: { domain: [0, 1] } },
          color: { field: 'policy', type: 'nominal', title: 'policy', legend: { labelLimit: 420 } },
        },
      },
      {
        data: { values: [{ deadline, label: scale.kind === 'ms' ? `deadline ${formatMs(deadline)} ms` : 'deadline' }] },
        layer: [
          { mark: { type: 'rule', strokeDash: [6, 4], color: '#b00', strokeWidth: 1.5 }, encoding: { x: { field: 'deadline', type: 'quantitative' } } },
          {
            mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#b00', fontSize: 11 },
            encoding: { x: { field: 'deadline', type: 'quantitative' }, y: { value: 10 }, text: { field: 'label', type: 'nominal' } },
          },
        ],
      },
    ],
  };
}
