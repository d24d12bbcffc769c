/**
 * The `report` and `stats` use cases: a store's telemetry analysed (`report/analyse.ts`) or
 * written as an HTML report (`report/build-report.ts`), with the store's date range when
 * nothing matched (to say why).
 */
import type { AnalysisFilter } from '../store/analysis.js';
import { analyseStore, type StoreAnalysis } from '../report/analyse.js';
import type { ReportOptions, ReportSummary } from '../report/build-report.js';
import { storeDateRange, type StoreDateRange } from '../store/date-range.js';
import { openStore } from '../store/store.js';

/** Progress of a scan: arcs read so far of the total. */
export type ArcProgress = (doneArcs: number, totalArcs: number) => void;

/** What {@link analyseDb} found; `storeRange` is set when nothing matched the filter. */
export interface AnalyseDbResult {
  readonly analysis: StoreAnalysis;
  readonly storeRange?: StoreDateRange | null;
}

/** Opens `db` read-only and analyses what matches `filter`. */
export function analyseDb(db: string, filter: AnalysisFilter, onProgress?: ArcProgress): AnalyseDbResult {
  const store = openStore(db, { readonly: true });
  try {
    const analysis = analyseStore(store, filter, onProgress === undefined ? {} : { onProgress });
    return analysis.arcs.scanned === 0 && analysis.outcomes.length === 0 ? { analysis, storeRange: storeDateRange(store) } : { analysis };
  } finally {
    store.close();
  }
}

/** What {@link writeDbReport} wrote; `storeRange` is set when no arc and no outcome matched. */
export interface WriteDbReportResult {
  readonly summary: ReportSummary;
  readonly storeRange?: StoreDateRange | null;
}

/** Opens `db` read-only and writes the HTML report of what matches `options.filter` to `out`. */
export async function writeDbReport(db: string, out: string, options: ReportOptions): Promise<WriteDbReportResult> {
  // Vega and Vega-Lite load only when a report is built.
  const { writeReport } = await import('../report/build-report.js');
  const store = openStore(db, { readonly: true });
  try {
    const summary = await writeReport(store, out, options);
    return summary.arcs === 0 && summary.outcomes === 0 ? { summary, storeRange: storeDateRange(store) } : { summary };
  } finally {
    store.close();
  }
}
