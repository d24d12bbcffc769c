/**
 * Which arc blew a blackout: the arcs a migration ran inside its blackout, each against the
 * latency its (device model, arc) line predicts for its size, sorted by how far it overran.
 */
import { iterateArcs, transfers } from '../store/queries.js';
import type { Store } from '../store/store.js';
import type { OutcomeRecord } from '../records/records.js';
import type { ArcStats } from './arc-stats.js';
import { overshootMs } from './outcome-stats.js';

/** One arc of a blackout. */
export interface BlackoutArc {
  readonly deviceId: string;
  readonly deviceModel: string;
  readonly arc: string;
  /** Start, ms after the decision. */
  readonly atMs: number;
  readonly latencyMs: number;
  readonly stopCopyBytes: number;
  /** The line's latency for this size (`fixed + slope × bytes`), ms; null without a line. */
  readonly expectedMs: number | null;
  /** `latency − expected`, ms: how much this arc overran its typical latency. */
  readonly excessMs: number | null;
  readonly ok: boolean;
  readonly errno?: string;
}

/** One outcome taken apart. */
export interface BlackoutBreakdown {
  readonly outcome: OutcomeRecord;
  /** `actual − deadline`, ms. */
  readonly overshootMs: number;
  /** Arcs by excess, largest first (arcs without a line last). */
  readonly arcs: readonly BlackoutArc[];
  /**
   * `window`: arcs started during the blackout; `migration`: none did (the arcs and the outcome
   * are on different clocks, e.g. an import), so every arc of the migration is listed.
   */
  readonly arcsFrom: 'window' | 'migration';
  /** Σ of the migration's stop-copy transfer durations (RAM and device streams), ms. */
  readonly stopCopyTransferMs: number;
}

/** `deviceModel|arc` → stats, for {@link blackoutBreakdown}. */
export function linesByKey(stats: readonly ArcStats[]): Map<string, ArcStats> {
  return new Map(stats.map((s) => [`${s.deviceModel}|${s.arc}`, s]));
}

/** Takes `outcome`'s blackout apart using the fitted `lines`. */
export function blackoutBreakdown(store: Store, outcome: OutcomeRecord, lines: ReadonlyMap<string, ArcStats>): BlackoutBreakdown {
  const all = [...iterateArcs(store, { migrationId: outcome.migrationId })];
  const start = outcome.decidedAtMs;
  const end = start + outcome.actualBlackoutMs;
  const inWindow = all.filter((a) => a.startedAtMs >= start && a.startedAtMs <= end);
  const chosen = inWindow.length > 0 ? inWindow : all;
  const arcs = chosen.map((a): BlackoutArc => {
    const arc = `${a.from}>${a.to}`;
    const line = lines.get(`${a.deviceModel}|${arc}`);
    const fixedMs = line?.fixedMs ?? null;
    const slope = line?.slopeMsPerByte ?? null;
    const expectedMs = fixedMs === null || slope === null ? null : fixedMs + slope * a.stopCopyBytes;
    const base = {
      deviceId: a.deviceId,
      deviceModel: a.deviceModel,
      arc,
      atMs: a.startedAtMs - start,
      latencyMs: a.latencyMs,
      stopCopyBytes: a.stopCopyBytes,
      expectedMs,
      excessMs: expectedMs === null ? null : a.latencyMs - expectedMs,
      ok: a.ok,
    };
    return a.errno === undefined ? base : { ...base, errno: a.errno };
  });
  arcs.sort((a, b) => (b.excessMs ?? -Infinity) - (a.excessMs ?? -Infinity) || a.atMs - b.atMs);
  const stopCopyTransferMs = transfers(store, { migrationId: outcome.migrationId, phase: 'stopcopy' }).reduce((s, t) => s + t.durationMs, 0);
  return { outcome, overshootMs: overshootMs(outcome), arcs, arcsFrom: inWindow.length > 0 ? 'window' : 'migration', stopCopyTransferMs };
}
