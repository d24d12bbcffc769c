/**
 * Calibration: each outcome's predicted bound (x) against its actual blackout (y), the y = x
 * line, and per policy the share of blackouts above their bound — what α promised.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { OutcomeRecord } from '../../records/records.js';
import { summarisePolicies } from '../outcome-stats.js';
import { formatShare } from '../stats-tables.js';
import { subtitleLines } from './render.js';

/** Width and height of the plot, px. */
const CALIBRATION_SIZE_PX = 520;

/** Points plotted at most (default 1,500): every blackout above its bound first, then an even sample. */
export const CALIBRATION_MAX_POINTS = 1500;

/** `within bound` / `above bound`, the chart's shapes. */
export const CALIBRATION_SIDES = ['within bound', 'above bound'] as const;

/** The outcomes plotted: all above their bound (up to half the budget), then an even sample of the rest. */
export function calibrationPoints(outcomes: readonly OutcomeRecord[], maxPoints = CALIBRATION_MAX_POINTS): OutcomeRecord[] {
  if (outcomes.length <= maxPoints) return [...outcomes];
  const above = outcomes.filter((o) => o.actualBlackoutMs > o.predictedBlackoutMs);
  const within = outcomes.filter((o) => o.actualBlackoutMs <= o.predictedBlackoutMs);
  const keptAbove = above.slice(0, Math.max(Math.floor(maxPoints / 2), maxPoints - within.length));
  const room = maxPoints - keptAbove.length;
  const stride = within.length / Math.max(1, room);
  const keptWithin: OutcomeRecord[] = [];
  for (let i = 0; keptWithin.length < room && i < within.length; i += stride) keptWithin.push(within[Math.floor(i)] as OutcomeRecord);
  return [...keptWithin, ...keptAbove];
}

/** The calibration scatter. */
export function calibrationSpec(outcomes: readonly OutcomeRecord[], maxPoints = CALIBRATION_MAX_POINTS): TopLevelSpec {
  const points = calibrationPoints(outcomes, maxPoints);
  const rows = points.map((o) => ({
    migration: o.migrationId,
    policy: o.policy,
    boundMs: o.predictedBlackoutMs,
    actualMs: o.actualBlackoutMs,
    side: o.actualBlackoutMs > o.predictedBlackoutMs ? CALIBRATION_SIDES[1] : CALIBRATION_SIDES[0],
  }));
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of rows) {
    lo = Math.min(lo, r.boundMs, r.actualMs);
    hi = Math.max(hi, r.boundMs, r.actualMs);
  }
  if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
  // Blackouts spanning decades (a 15 ms RAM-only switchover next to a 9 s post-copy) crowd a
  // linear plot into one corner: log axes keep both readable (symmetric log when a 0 is plotted).
  const wide = hi > 30 * Math.max(1, lo);
  const logType = lo > 0 ? 'log' : 'symlog';
  const pad = wide ? 0 : (hi - lo) * 0.03 || 1;
  const domain = [Math.max(0, lo - pad), hi + pad];
  const shares = summarisePolicies(outcomes).map((s) => `${s.policy} ${formatShare(s.aboveBoundShare)} of ${s.n.toLocaleString('en-US')}`);
  const axisScale = wide ? ({ type: logType, domain, nice: false } as const) : ({ domain, nice: false, zero: false } as const);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Calibration: predicted bound vs actual blackout',
      subtitle: subtitleLines(
        [
          `Above the y = x line the blackout exceeded its bound. Share above: ${shares.join('; ')}.${wide ? ` Both axes ${logType === 'log' ? 'logarithmic' : 'symmetric-log'}.` : ''}`,
          `${rows.length.toLocaleString('en-US')} of ${outcomes.length.toLocaleString('en-US')} outcomes plotted (all above the bound first, then an even sample).`,
        ],
        CALIBRATION_SIZE_PX,
      ),
    },
    width: CALIBRATION_SIZE_PX,
    height: CALIBRATION_SIZE_PX,
    layer: [
      {
        data: { values: [{ ms: domain[0] }, { ms: domain[1] }] },
        mark: { type: 'line', color: '#555', strokeDash: [4, 3], strokeWidth: 1.2 },
        encoding: {
          x: { field: 'ms', type: 'quantitative', scale: axisScale, title: 'predicted bound (ms)' },
          y: { field: 'ms', type: 'quantitative', scale: axisScale, title: 'actual blackout (ms)' },
        },
      },
      {
        data: { values: rows },
        mark: { type: 'point', filled: true, size: 30, opacity: 0.6 },
        encoding: {
          x: { field: 'boundMs', type: 'quantitative', scale: axisScale, title: 'predicted bound (ms)' },
          y: { field: 'actualMs', type: 'quantitative', scale: axisScale, title: 'actual blackout (ms)' },
          color: { field: 'policy', type: 'nominal', title: 'policy' },
          shape: { field: 'side', type: 'nominal', title: 'actual vs bound', scale: { domain: [...CALIBRATION_SIDES], range: ['circle', 'triangle-up'] } },
        },
      },
    ],
  };
}
