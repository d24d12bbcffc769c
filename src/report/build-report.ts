/**
 * The self-contained HTML report of a store: latency vs size per arc with the fitted line and
 * bound, the blackout ECDF per policy against the deadline, calibration, pre-copy convergence,
 * and the worst outcomes taken apart arc by arc.
 *
 * ```ts
 * const store = openStore('data/vfio-sla.db', { readonly: true });
 * await writeReport(store, 'out/report.html');
 * store.close();
 * ```
 */
import { assertFileTarget, writeFileAtomic } from '../files/output-target.js';
import { MAX_TIME_MS } from '../telemetry/validate.js';
import type { Store } from '../store/store.js';
import { analyseStore, type StoreAnalysis } from './analyse.js';
import { blackoutBreakdown, linesByKey } from './breakdown.js';
import { calibrationSpec } from './charts/calibration.js';
import { convergenceSpec } from './charts/convergence.js';
import { ecdfSpec } from './charts/ecdf.js';
import { latencySizeSpec, latencyStripSpec } from './charts/latency-size.js';
import { renderSvg } from './charts/render.js';
import { chooseConvergence } from './convergence.js';
import { filterParts, timeText } from './describe.js';
import { chartFigure, note, renderPage, type PageSection } from './html.js';
import { worstOutcomes } from './outcome-stats.js';
import type { AnalysisFilter } from '../store/analysis.js';
import { ARC_COLUMNS, ATTEMPT_COLUMNS, POLICY_COLUMNS } from './stats-tables.js';
import { htmlTable } from './table-format.js';
import { worstTableHtml } from './worst-table.js';

/** Options of {@link buildReport}; every one has a default. */
export interface ReportOptions {
  /** What to analyse (default: everything). */
  readonly filter?: AnalysisFilter;
  /** Page title (default `vfio-sla latency report`). */
  readonly title?: string;
  /** Migrations of the convergence chart (default: worst outcomes with ≥ 2 passes, else the most passes). */
  readonly migrations?: readonly string[];
  /** Worst outcomes in the table (default 10). */
  readonly worst?: number;
  /** Arcs read so far of the total: the scan is the long part. */
  readonly onProgress?: (doneArcs: number, totalArcs: number) => void;
  /** Time stamped on the page (default: now). */
  readonly generatedAt?: Date;
  /** The data source shown on the page (default: the store's path). */
  readonly source?: string;
}

/** What a built report holds. */
export interface ReportSummary {
  readonly arcs: number;
  readonly arcGroups: number;
  readonly outcomes: number;
  readonly policies: readonly string[];
  /** Names of the charts drawn (`data-chart` values), in page order. */
  readonly charts: readonly string[];
  readonly convergenceMigrations: readonly string[];
  readonly worst: readonly string[];
  /** Size of the HTML, bytes (UTF-8). */
  readonly bytes: number;
  /** What Vega-Lite and Vega warned about while drawing (`<chart>: <message>`); empty when clean. */
  readonly warnings: readonly string[];
}

/** Completed arcs sampled per (device model, arc) for the latency chart, before thinning. */
const SAMPLE_PER_GROUP = 400;

/** The lines under the page title: source, time, what was analysed. */
function metaLines(a: StoreAnalysis, source: string, generatedAt: Date): string[] {
  const first = Math.min(...a.arcs.stats.map((s) => s.firstStartedAtMs));
  const last = Math.max(...a.arcs.stats.map((s) => s.lastStartedAtMs));
  const filters = filterParts(a.filter);
  return [
    `Source: ${source}. Generated ${generatedAt.toISOString()}.`,
    `${a.arcs.scanned.toLocaleString('en-US')} arcs in ${a.arcs.stats.length} (device model, arc) groups` +
      (a.arcs.scanned > 0 ? `, started ${timeText(first)} to ${timeText(last)}` : '') +
      `; ${a.outcomes.length.toLocaleString('en-US')} outcomes.`,
    filters.length === 0 ? 'Filter: none (everything in the store).' : `Filter: ${filters.join(', ')}.`,
  ];
}

/** Builds the report; resolves to the HTML and what it holds. */
export async function renderReport(store: Store, options: ReportOptions = {}): Promise<{ html: string; summary: ReportSummary }> {
  const analysis = analyseStore(store, options.filter ?? {}, {
    samplePerGroup: SAMPLE_PER_GROUP,
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  const charts: string[] = [];
  const warnings: string[] = [];
  for (const g of analysis.arcs.stats) {
    if (!(g.lastStartedAtMs <= MAX_TIME_MS)) {
      warnings.push(`${g.deviceModel} ${g.arc}: an arc starts at ${g.lastStartedAtMs} ms, past the year 9999 (a bad stored record); shown as a number`);
    }
  }
  const chart = async (name: string, spec: Parameters<typeof renderSvg>[0], caption: string): Promise<string> => {
    charts.push(name);
    return chartFigure(name, await renderSvg(spec, name, warnings), caption);
  };
  const latencyStrips = async (arcs: typeof analysis.arcs): Promise<string> => {
    const spec = latencyStripSpec(arcs);
    return spec === null ? '' : chart('latency-strips', spec, 'One strip per arc whose device state size was always the same.');
  };
  const outcomes = analysis.outcomes;
  const worst = worstOutcomes(outcomes, options.worst ?? 10);
  const lines = linesByKey(analysis.arcs.stats);
  const breakdowns = worst.map((o) => blackoutBreakdown(store, o, lines));
  const filtered = Object.keys(options.filter ?? {}).length > 0;
  const convergence = chooseConvergence(store, options.migrations, worst.map((o) => o.migrationId), filtered);
  // A mistyped --migration would otherwise just make the chart vanish.
  for (const id of new Set(options.migrations ?? [])) {
    if (!convergence.some((c) => c.migrationId === id)) warnings.push(`--migration '${id}': no RAM progress recorded; not in the convergence chart`);
  }

  const sections: PageSection[] = [];
  sections.push({
    id: 'attempts',
    title: 'Attempts by policy',
    body:
      analysis.attemptSummaries.length === 0
        ? note('No attempts or outcomes recorded.')
        : htmlTable(ATTEMPT_COLUMNS, analysis.attemptSummaries) +
          note(
            'Every migration attempted, however it ended. "miss rate" is missed ÷ attempted: an aborted migration is not a miss (the VM kept running on the source), so read it beside "aborted share". ' +
              '"mean total time": start to the VM running on the destination, or to the end.' +
              (analysis.attemptSummaries.some((p) => !p.attemptsRecorded) ? ' * No attempt records for this policy: counted from its outcomes, aborts unknown.' : ''),
          ),
  });
  sections.push({
    id: 'policies',
    title: 'Outcomes by policy',
    body:
      outcomes.length === 0
        ? note('No outcomes recorded: nothing to say about deadlines yet.')
        : htmlTable(POLICY_COLUMNS, analysis.policies) + note('"above bound": share of blackouts longer than the bound predicted when the decision was taken.'),
  });
  sections.push({
    id: 'latency',
    title: 'Arc latency vs size',
    body:
      analysis.arcs.stats.length === 0
        ? note('No arcs recorded.')
        : (await chart('latency-size', latencySizeSpec(analysis.arcs), 'Each panel: one arc of one device model. Points: arcs; line and bound: fitted to the completed arcs.')) +
          (await latencyStrips(analysis.arcs)) +
          htmlTable(ARC_COLUMNS, analysis.arcs.stats) +
          note('Latency figures are over completed arcs; "failed" counts arcs that returned an error. Slopes in ms per MB (10^6 bytes).'),
  });
  sections.push({
    id: 'ecdf',
    title: 'Blackout against the deadline',
    body: outcomes.length === 0 ? note('No outcomes recorded.') : await chart('ecdf', ecdfSpec(outcomes), 'One step line per policy; the further left and the steeper, the better.'),
  });
  sections.push({
    id: 'calibration',
    title: 'Calibration',
    body:
      outcomes.length === 0
        ? note('No outcomes recorded.')
        : await chart('calibration', calibrationSpec(outcomes), 'A calibrated 1 - α bound has at most α of its points above the dashed y = x line.'),
  });
  sections.push({
    id: 'convergence',
    title: 'Pre-copy convergence',
    body:
      convergence.length === 0
        ? note('No migration with RAM progress over two or more pre-copy passes.')
        : await chart('convergence', convergenceSpec(convergence), `Migrations: ${convergence.map((c) => c.migrationId).join(', ')}.`),
  });
  sections.push({
    id: 'worst',
    title: 'Worst outcomes, arc by arc',
    body:
      breakdowns.length === 0
        ? note('No outcomes recorded.')
        : note(`The ${breakdowns.length} outcomes furthest over (or closest to) their deadline. Arcs are compared with their (device model, arc) line at their size.`) +
          worstTableHtml(breakdowns),
  });

  const generatedAt = options.generatedAt ?? new Date();
  const html = renderPage({ title: options.title ?? 'vfio-sla latency report', meta: metaLines(analysis, options.source ?? store.path, generatedAt), sections });
  return {
    html,
    summary: {
      arcs: analysis.arcs.scanned,
      arcGroups: analysis.arcs.stats.length,
      outcomes: outcomes.length,
      policies: analysis.policies.map((p) => p.policy),
      charts,
      convergenceMigrations: convergence.map((c) => c.migrationId),
      worst: worst.map((o) => o.migrationId),
      bytes: Buffer.byteLength(html),
      warnings,
    },
  };
}

/** The report of `store` as one self-contained HTML string. */
export async function buildReport(store: Store, options: ReportOptions = {}): Promise<string> {
  return (await renderReport(store, options)).html;
}

/** Builds the report and writes it to `outPath` atomically (creating its folder). */
export async function writeReport(store: Store, outPath: string, options: ReportOptions = {}): Promise<ReportSummary> {
  assertFileTarget(outPath, '--out'); // before the work, not only after it
  const { html, summary } = await renderReport(store, options);
  writeFileAtomic(outPath, html, '--out');
  return summary;
}
