/**
 * One analysis of a store, shared by `vfio-sla stats` and the HTML report: the arc scan
 * aggregated per (device model, arc), and the outcomes with their per-policy summaries.
 */
import { listMigrations } from '../store/inventory.js';
import type { Store } from '../store/store.js';
import type { AttemptRecord, OutcomeRecord } from '../records/records.js';
import { analyseArcs, type ArcAnalysis } from './arc-stats.js';
import { arcStates } from './filter.js';
import { summariseAttempts, type PolicyAttemptSummary } from './attempt-stats.js';
import { summarisePolicies, type PolicyOutcomeSummary } from './outcome-stats.js';
import { analysisAttempts, analysisOutcomes, countArcs, deviceModelNames, scanArcs, type AnalysisFilter } from '../store/analysis.js';

/** Everything the tables and charts are drawn from. */
export interface StoreAnalysis {
  readonly filter: AnalysisFilter;
  readonly arcs: ArcAnalysis;
  /** Outcomes matching the filter, by migration. */
  readonly outcomes: readonly OutcomeRecord[];
  readonly policies: readonly PolicyOutcomeSummary[];
  /** How every attempt matching the filter ended (none in a store older than attempt records). */
  readonly attempts: readonly AttemptRecord[];
  /** Per policy: attempted, completed, met, missed, aborted by reason, total time. */
  readonly attemptSummaries: readonly PolicyAttemptSummary[];
  /** The source QEMU versions of the migrations with outcomes (`stack` records; `null`: not known), most first. */
  readonly qemuVersions: readonly QemuVersionCount[];
}

/** How many of the analysed migrations ran one source QEMU version. */
export interface QemuVersionCount {
  readonly qemuVersion: string | null;
  readonly migrations: number;
}

/** {@link StoreAnalysis.qemuVersions} of the migrations `outcomes` name. */
function qemuVersionCounts(store: Store, outcomes: readonly OutcomeRecord[]): QemuVersionCount[] {
  const ids = new Set(outcomes.map((o) => o.migrationId));
  const counts = new Map<string | null, number>();
  for (const m of listMigrations(store)) {
    if (!ids.has(m.migrationId)) continue;
    const v = m.qemuVersion ?? null;
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return [...counts].map(([qemuVersion, migrations]) => ({ qemuVersion, migrations })).sort((a, b) => b.migrations - a.migrations || String(a.qemuVersion).localeCompare(String(b.qemuVersion)));
}

/** Options of {@link analyseStore}. */
export interface AnalyseOptions {
  /** Completed arcs kept per (device model, arc) for plotting (default 0: none). */
  readonly samplePerGroup?: number;
  /** Arcs read so far of the total matching the filter. */
  readonly onProgress?: (doneArcs: number, totalArcs: number) => void;
}

/** Scans the arcs matching `filter` once and reads the matching outcomes. Synchronous. */
export function analyseStore(store: Store, filter: AnalysisFilter = {}, options: AnalyseOptions = {}): StoreAnalysis {
  if (filter.arc !== undefined) arcStates(filter.arc); // a bad key is E_BAD_FILTER
  const onProgress = options.onProgress;
  const total = onProgress === undefined ? 0 : countArcs(store, filter);
  const arcs = analyseArcs(scanArcs(store, filter), deviceModelNames(store), {
    samplePerGroup: options.samplePerGroup ?? 0,
    ...(onProgress === undefined ? {} : { onProgress: (done: number) => onProgress(done, total) }),
  });
  const outcomes = analysisOutcomes(store, filter);
  const attempts = analysisAttempts(store, filter);
  const qemuVersions = qemuVersionCounts(store, outcomes);
  return { filter, arcs, outcomes, policies: summarisePolicies(outcomes), attempts, attemptSummaries: summariseAttempts(attempts, outcomes), qemuVersions };
}
