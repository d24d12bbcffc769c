/**
 * Arc latency against device state size, one panel per (device model, arc): a sample of the
 * completed arcs (plus the slowest, always), failed arcs, the fitted line
 * `fixed + slope × size` and the p99 bound above it.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ArcAnalysis, ArcPoint, ArcSample, ArcStats } from '../arc-stats.js';
import { subtitleLines } from './render.js';

/** Series of the chart, in legend order. */
export const LATENCY_SERIES = ['completed arc (sample)', 'failed arc', 'fitted line: fixed + slope x size', 'p99 bound: line + p99 residual'] as const;

/** Panels per row and their plot width, px: three, with axes and headers, fit the page's 1,056 px. */
const LATENCY_COLUMNS = 3;
const LATENCY_PANEL_WIDTH_PX = 220;

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

/** Every completed arc of the group had the same device state size: a line against size says nothing. */
export function isOneSize(sample: ArcSample): boolean {
  return sample.completed.length > 0 && sample.minBytes === sample.maxBytes;
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
    if (sample === undefined || isOneSize(sample)) continue;
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
      // (arcs whose size never varies are in the strip chart below)
      subtitle: subtitleLines(
        [
          `${analysis.scanned.toLocaleString('en-US')} arcs; ${rows.filter((r) => r.series === LATENCY_SERIES[0]).length} plotted (an even sample plus the slowest of each arc). Line: Theil-Sen fit of the completed arcs.`,
          ...(hidden > 0 ? [`${hidden} arcs with the lowest p99 are not drawn (${panels} panels); every arc is in the table.`] : []),
        ],
        LATENCY_COLUMNS * LATENCY_PANEL_WIDTH_PX,
      ),
    },
    data: { values: rows },
    facet: { field: 'panel', type: 'nominal', title: null, header: { labelFontWeight: 'bold' } },
    columns: LATENCY_COLUMNS,
    spec: {
      width: LATENCY_PANEL_WIDTH_PX,
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

/** `7.2 MB`, `2 kB`, `0 B`: a size in a label. */
function siBytes(bytes: number): string {
  if (bytes >= 1e6) return `${+(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${+(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

/** The quantile ticks of the strip chart, in legend order. */
export const STRIP_QUANTILES = ['p50', 'p90', 'p99'] as const;

/**
 * Arcs whose device state size never varied (a QAT VF's 4 KiB, a NIC's empty STOP_COPY→STOP):
 * one strip per (device model, arc) — each arc a point, spread vertically so they do not hide
 * one another — with ticks at p50, p90 and p99. Null when there are none.
 */
export function latencyStripSpec(analysis: ArcAnalysis, options: LatencySizeOptions = {}): TopLevelSpec | null {
  const samples = new Map(analysis.samples.map((s) => [panelName(s), s]));
  const strips = chosenPanels(analysis.stats, options.maxPanels ?? 32).filter((s) => {
    const sample = samples.get(panelName(s));
    return sample !== undefined && isOneSize(sample);
  });
  if (strips.length === 0) return null;
  const perStrip = Math.max(10, Math.floor((options.maxPoints ?? 2000) / strips.length));
  const points: Array<{ strip: string; latencyMs: number; series: string; jitter: number }> = [];
  const ticks: Array<{ strip: string; latencyMs: number; quantile: string }> = [];
  for (const s of strips) {
    const sample = samples.get(panelName(s)) as ArcSample;
    const strip = `${panelName(s)} (${siBytes(sample.minBytes)})`;
    // A golden-ratio sequence: an even, deterministic spread across the strip's height.
    thin(sample.completed, perStrip).forEach((p, i) => points.push({ strip, latencyMs: p.latencyMs, series: LATENCY_SERIES[0], jitter: (i * 0.618034) % 1 }));
    sample.failed.forEach((p, i) => points.push({ strip, latencyMs: p.latencyMs, series: LATENCY_SERIES[1], jitter: (i * 0.618034) % 1 }));
    const q = [s.p50Ms, s.p90Ms, s.p99Ms];
    STRIP_QUANTILES.forEach((quantile, i) => {
      const v = q[i];
      if (v !== null && v !== undefined) ticks.push({ strip, latencyMs: v, quantile });
    });
  }
  const lo = Math.min(...points.map((p) => p.latencyMs).filter((v) => v > 0));
  const hi = Math.max(...points.map((p) => p.latencyMs));
  const x = { field: 'latencyMs', type: 'quantitative', title: `arc latency (ms${hi > 20 * lo ? ', log scale' : ''})`, scale: hi > 20 * lo ? ({ type: 'log' } as const) : ({ zero: false } as const) } as const;
  const y = { field: 'strip', type: 'nominal', title: null, sort: null } as const;
  const width = 620;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Arcs whose device state size never varied: latency per arc',
      subtitle: subtitleLines(
        'Each point one arc (spread vertically within its strip); ticks at the p50, p90 and p99 of the completed arcs. A line against size would say nothing here.',
        width,
      ),
    },
    width,
    height: { step: 34 },
    // Vega estimates text in Node at 0.8 em a character: room for the longest label as estimated.
    config: { axisY: { labelLimit: 480 } },
    layer: [
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 20, opacity: 0.55 },
        encoding: {
          x,
          y,
          yOffset: { field: 'jitter', type: 'quantitative', scale: { domain: [0, 1], range: [6, 28] } },
          color: { field: 'series', type: 'nominal', title: 'arc', scale: { domain: [LATENCY_SERIES[0], LATENCY_SERIES[1]], range: ['#4c78a8', '#e45756'] } },
        },
      },
      {
        data: { values: ticks },
        mark: { type: 'tick', thickness: 2.5, size: 28 },
        encoding: {
          x,
          y,
          stroke: { field: 'quantile', type: 'nominal', title: 'quantile', scale: { domain: [...STRIP_QUANTILES], range: ['#222222', '#8c6d31', '#f58518'] } },
        },
      },
    ],
    resolve: { scale: { color: 'independent' } },
  };
}
