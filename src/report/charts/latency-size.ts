/**
 * Arc latency against device state size, one panel per (device model, arc): a sample of the
 * completed arcs (plus the slowest, always), failed arcs, the fitted line
 * `fixed + slope × size` and the p99 bound above it.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ArcAnalysis, ArcPoint, ArcStats } from '../arc-stats.js';

/** Series of the chart, in legend order. */
export const LATENCY_SERIES = ['completed arc (sample)', 'failed arc', 'fitted line: fixed + slope x size', 'p99 bound: line + p99 residual'] as const;

/** Options of {@link latencySizeSpec}. */
export interface LatencySizeOptions {
  /** Points plotted over all panels at most (default 2,000). */
  readonly maxPoints?: number;
  /** Panels at most; beyond, the arcs with the highest p99 are kept (default 32). */
  readonly maxPanels?: number;
}

interface Row {
  readonly panel: string;
  readonly series: (typeof LATENCY_SERIES)[number];
  /** Point shape and line dash of the series, fields of their own: the legend is drawn for colour only. */
  readonly glyph: 'circle' | 'cross' | null;
  readonly dash: 'solid' | 'dashed' | null;
  readonly stopCopyBytes: number;
  readonly latencyMs: number;
}

/** Every `stride`-th point, then the slowest ones again (they are the point of the chart). */
function thin(points: readonly ArcPoint[], keep: number): ArcPoint[] {
  if (points.length <= keep) return [...points];
  const slowest = [...points].sort((a, b) => b.latencyMs - a.latencyMs).slice(0, Math.min(5, keep));
  const stride = points.length / Math.max(1, keep - slowest.length);
  const out: ArcPoint[] = [];
  for (let i = 0; out.length < keep - slowest.length && i < points.length; i += stride) out.push(points[Math.floor(i)] as ArcPoint);
  return [...out, ...slowest];
}

/** The panels shown: all, or the `max` with the highest p99 (in model, arc order). */
export function chosenPanels(stats: readonly ArcStats[], max: number): ArcStats[] {
  const withData = stats.filter((s) => s.p99Ms !== null || s.failed > 0);
  if (withData.length <= max) return withData;
  const keep = new Set([...withData].sort((a, b) => (b.p99Ms ?? 0) - (a.p99Ms ?? 0)).slice(0, max));
  return withData.filter((s) => keep.has(s));
}

/** Panel title of a (device model, arc). */
export function panelName(s: { readonly deviceModel: string; readonly arc: string }): string {
  return `${s.deviceModel} · ${s.arc}`;
}

/** The chart's data rows: points, failed points and two-point lines per panel. */
export function latencySizeRows(analysis: ArcAnalysis, options: LatencySizeOptions = {}): Row[] {
  const panels = chosenPanels(analysis.stats, options.maxPanels ?? 32);
  const perPanel = Math.max(10, Math.floor((options.maxPoints ?? 2000) / Math.max(1, panels.length)));
  const samples = new Map(analysis.samples.map((s) => [panelName(s), s]));
  const rows: Row[] = [];
  for (const s of panels) {
    const panel = panelName(s);
    const sample = samples.get(panel);
    if (sample === undefined) continue;
    const failed = thin(sample.failed, Math.max(5, Math.floor(perPanel / 5)));
    for (const p of thin(sample.completed, perPanel - failed.length)) rows.push({ panel, series: LATENCY_SERIES[0], glyph: 'circle', dash: null, stopCopyBytes: p.stopCopyBytes, latencyMs: p.latencyMs });
    for (const p of failed) rows.push({ panel, series: LATENCY_SERIES[1], glyph: 'cross', dash: null, stopCopyBytes: p.stopCopyBytes, latencyMs: p.latencyMs });
    if (s.fixedMs === null || s.slopeMsPerByte === null || s.residualP99Ms === null) continue;
    // One size only (a device model whose state never varies): a short line around it.
    const [lo, hi] = sample.minBytes < sample.maxBytes ? [sample.minBytes, sample.maxBytes] : [sample.minBytes * 0.95, sample.maxBytes * 1.05 + 1];
    for (const bytes of [lo, hi]) {
      const lineMs = s.fixedMs + s.slopeMsPerByte * bytes;
      rows.push({ panel, series: LATENCY_SERIES[2], glyph: null, dash: 'solid', stopCopyBytes: bytes, latencyMs: lineMs });
      rows.push({ panel, series: LATENCY_SERIES[3], glyph: null, dash: 'dashed', stopCopyBytes: bytes, latencyMs: lineMs + s.residualP99Ms });
    }
  }
  return rows;
}

/** The faceted latency-vs-size chart. */
export function latencySizeSpec(analysis: ArcAnalysis, options: LatencySizeOptions = {}): TopLevelSpec {
  const rows = latencySizeRows(analysis, options);
  const panels = new Set(rows.map((r) => r.panel)).size;
  const shown = chosenPanels(analysis.stats, options.maxPanels ?? 32).length;
  const hidden = analysis.stats.length - shown;
  const color = {
    field: 'series',
    type: 'nominal',
    title: 'series',
    scale: { domain: [...LATENCY_SERIES], range: ['#4c78a8', '#e45756', '#222222', '#f58518'] },
  } as const;
  // SI prefixes (4k, 120M): one axis reads right for a 4 KiB QAT VF and a 300 MB ConnectX-7.
  const x = { field: 'stopCopyBytes', type: 'quantitative', title: 'device state at arc start (bytes)', axis: { tickCount: 4, format: '~s' } } as const;
  const y = { field: 'latencyMs', type: 'quantitative', title: 'arc latency (ms)', axis: { tickCount: 4 } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Arc latency vs device state size, per device model and arc',
      subtitle: [
        `${analysis.scanned.toLocaleString('en-US')} arcs; ${rows.filter((r) => r.series === LATENCY_SERIES[0]).length} plotted (an even sample plus the slowest of each arc). Line: Theil-Sen fit of the completed arcs.`,
        ...(hidden > 0 ? [`${hidden} arcs with the lowest p99 are not drawn (${panels} panels); every arc is in the table.`] : []),
      ],
    },
    data: { values: rows },
    facet: { field: 'panel', type: 'nominal', title: null, header: { labelFontWeight: 'bold' } },
    columns: 4,
    spec: {
      width: 190,
      height: 120,
      // Two layers, not four: a layer with no rows in a panel (no failed arc there) gives Vega
      // an empty extent to warn about.
      layer: [
        {
          transform: [{ filter: { field: 'series', oneOf: [LATENCY_SERIES[0], LATENCY_SERIES[1]] } }],
          mark: { type: 'point', filled: true, size: 22, opacity: 0.6 },
          encoding: { x, y, color, shape: { field: 'glyph', type: 'nominal', legend: null, scale: { domain: ['circle', 'cross'], range: ['circle', 'cross'] } } },
        },
        {
          transform: [{ filter: { field: 'series', oneOf: [LATENCY_SERIES[2], LATENCY_SERIES[3]] } }],
          mark: { type: 'line', strokeWidth: 1.8 },
          encoding: { x, y, color, strokeDash: { field: 'dash', type: 'nominal', legend: null, scale: { domain: ['solid', 'dashed'], range: [[1, 0], [5, 3]] } } },
        },
      ],
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
  };
}
