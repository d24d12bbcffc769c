import { describe, expect, it } from 'vitest';
import type { ArcAnalysis, ArcStats } from '../../src/report/arc-stats.js';
import { calibrationPoints } from '../../src/report/charts/calibration.js';
import { ecdfScale, ecdfSpec } from '../../src/report/charts/ecdf.js';
import { chosenPanels, latencySizeRows, LATENCY_SERIES } from '../../src/report/charts/latency-size.js';
import type { OutcomeRecord } from '../../src/records/records.js';

function outcome(i: number, actualBlackoutMs: number, deadlineMs: number, predictedBlackoutMs = 300): OutcomeRecord {
  return { kind: 'outcome', migrationId: `m${i}`, policy: i % 2 === 0 ? 'governor' : 'qemu', deadlineMs, decidedAtMs: i, predictedBlackoutMs, actualBlackoutMs, met: actualBlackoutMs <= deadlineMs };
}

/** The first layer's rows and x title of a layered spec, read as plain JSON. */
function firstLayer(spec: unknown): { values: Array<Record<string, unknown>>; xTitle: string } {
  const layer = (spec as { layer: Array<{ data: { values: Array<Record<string, unknown>> }; encoding: { x: { title: string } } }> }).layer[0]!;
  return { values: layer.data.values, xTitle: layer.encoding.x.title };
}

describe('the ECDF chart', () => {
  it('plots milliseconds against the deadline when every migration had the same one', () => {
    const list = [outcome(0, 200, 300), outcome(1, 350, 300)];
    expect(ecdfScale(list)).toEqual({ kind: 'ms', deadlineMs: 300 });
    const { values, xTitle } = firstLayer(ecdfSpec(list));
    expect(xTitle).toBe('actual blackout (ms)');
    expect(values.map((v) => v['value'])).toEqual([200, 350]);
  });

  it('plots blackout ÷ deadline when deadlines differ, the deadline at 1', () => {
    const list = [outcome(0, 200, 400), outcome(2, 600, 500), outcome(1, 90, 100)];
    expect(ecdfScale(list)).toEqual({ kind: 'ratio' });
    const { values, xTitle } = firstLayer(ecdfSpec(list));
    expect(xTitle).toBe('actual blackout / its deadline (1 = deadline)');
    expect(values.map((v) => [String(v['policy']).split(':')[0], v['value'], v['share']])).toEqual([
      ['governor', 0.5, 0.5],
      ['governor', 1.2, 1],
      ['qemu', 0.9, 1],
    ]);
  });
});

describe('the calibration chart', () => {
  it('keeps every blackout above its bound and samples the rest down to the budget', () => {
    const list = Array.from({ length: 1000 }, (_, i) => outcome(i, i % 50 === 0 ? 500 : 100, 300, 300));
    const points = calibrationPoints(list, 100);
    expect(points.length).toBe(100);
    expect(points.filter((o) => o.actualBlackoutMs > o.predictedBlackoutMs).length).toBe(20);
    expect(calibrationPoints(list.slice(0, 10), 100)).toEqual(list.slice(0, 10));
  });
});

describe('the latency vs size chart', () => {
  const stat = (arc: string, p99Ms: number): ArcStats => ({
    deviceModel: 'mlx5-cx7',
    arc,
    n: 1000,
    failed: 0,
    failShare: 0,
    p50Ms: 10,
    p90Ms: 20,
    p99Ms,
    maxMs: p99Ms * 2,
    fixedMs: 5,
    slopeMsPerByte: 1e-6,
    residualP99Ms: 7,
    firstStartedAtMs: 0,
    lastStartedAtMs: 1,
  });

  it('keeps the arcs with the highest p99 when there are too many panels', () => {
    const stats = ['A>B', 'B>C', 'C>D', 'D>E'].map((a, i) => stat(a, [5, 50, 1, 20][i]!));
    expect(chosenPanels(stats, 2).map((s) => s.arc)).toEqual(['B>C', 'D>E']);
  });

  it('plots at most the point budget, the slowest arcs always, and the line and bound over the size range', () => {
    const completed = Array.from({ length: 400 }, (_, i) => ({ stopCopyBytes: 1e6 + i * 1e4, latencyMs: i === 123 ? 999 : 6 + i / 100 }));
    const analysis: ArcAnalysis = {
      stats: [stat('PRE_COPY_P2P>STOP_COPY', 30)],
      samples: [{ deviceModel: 'mlx5-cx7', arc: 'PRE_COPY_P2P>STOP_COPY', completed, failed: [], minBytes: 1e6, maxBytes: 1e6 + 399e4 }],
      scanned: 400,
    };
    const rows = latencySizeRows(analysis, { maxPoints: 50 });
    const points = rows.filter((r) => r.series === LATENCY_SERIES[0]);
    expect(points.length).toBeLessThanOrEqual(50);
    expect(points.some((p) => p.latencyMs === 999)).toBe(true);
    expect(rows.filter((r) => r.series === LATENCY_SERIES[2])).toEqual([
      { panel: 'mlx5-cx7 · PRE_COPY_P2P>STOP_COPY', series: LATENCY_SERIES[2], glyph: null, dash: 'solid', stopCopyBytes: 1e6, latencyMs: 6 },
      { panel: 'mlx5-cx7 · PRE_COPY_P2P>STOP_COPY', series: LATENCY_SERIES[2], glyph: null, dash: 'solid', stopCopyBytes: 1e6 + 399e4, latencyMs: 5 + 4.99 },
    ]);
    expect(rows.filter((r) => r.series === LATENCY_SERIES[3]).map((r) => r.latencyMs)).toEqual([13, 5 + 4.99 + 7]);
  });
});
