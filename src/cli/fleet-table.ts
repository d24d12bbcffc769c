/**
 * The job's result as text: an aligned per-policy table and a few lines saying what the
 * numbers are. Pure, for the CLI and tests.
 */
import { conformalRank } from '../estimators/conformal.js';
import { DEFAULT_LINK } from '../estimators/types.js';
import type { FleetJobResult } from '../app/fleet-job.js';
import type { PolicySummary } from '../sim/fleet/metrics.js';

const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : '–');
const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : '–');
const secs = (x: number): string => (Number.isFinite(x) ? `${(x / 1000).toFixed(1)} s` : '–');

/** Columns of the policy table: header and cell. */
const COLUMNS: ReadonlyArray<readonly [string, (p: PolicySummary) => string]> = [
  ['policy', (p) => p.policy],
  ['useful', (p) => pct(p.usefulShare)],
  ['miss rate', (p) => pct(p.missRate)],
  ['missed/completed', (p) => `${p.missed}/${p.completed}`],
  ['blackout p50', (p) => ms(p.blackoutP50Ms)],
  ['blackout p99', (p) => ms(p.blackoutP99Ms)],
  ['mean total time', (p) => secs(p.meanTotalTimeMs)],
  ['aborted', (p) => pct(p.abortedShare)],
  ['throttled', (p) => pct(p.throttledShare)],
];

/** The per-policy table, columns aligned (text left, numbers right). */
export function policyTable(policies: readonly PolicySummary[]): string {
  const rows = [COLUMNS.map(([h]) => h), ...policies.map((p) => COLUMNS.map(([, cell]) => cell(p)))];
  const widths = COLUMNS.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r, i) => {
      const line = r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
      return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

/**
 * Which score the 1 − α bound is and the factor it puts on the median: with n ≈ 1/α scores the
 * bound is one of the few largest, so a single rare blackout in training moves it (inherent to
 * conformal: no distribution-free bound is tighter from n scores).
 */
/** `deviceWeight`: the calibration's scores are scaled ones with that weight (undefined: log ratios). */
function boundRank(sortedScores: readonly number[], alpha: number, deviceWeight: number | undefined): string {
  const n = sortedScores.length;
  const rank = conformalRank(n, alpha);
  const q = sortedScores[rank - 1];
  if (q === undefined) return `, too few for α = ${alpha}`;
  const fromTop = n - rank + 1;
  const which = fromTop === 1 ? 'the largest' : fromTop === 2 ? 'the 2nd largest' : fromTop === 3 ? 'the 3rd largest' : `the ${fromTop}th largest`;
  const bound = deviceWeight !== undefined ? `median + ${q.toFixed(2)} × (transfer + VM-level cost + ${deviceWeight} × devices)` : `median × ${Math.exp(q).toFixed(2)}`;
  return `; the α = ${alpha} bound is ${which}: ${bound}`;
}

/** The whole human-readable report of a job. */
export function formatJobReport(r: FleetJobResult): string {
  const cal = r.model.calibration;
  const link = r.model.links[DEFAULT_LINK];
  const gbps = (bytesPerS: number): string => (bytesPerS / 1e9).toFixed(2);
  const named = Object.entries(r.model.links)
    .filter(([name]) => name !== DEFAULT_LINK)
    .sort(([, a], [, b]) => a.medianBytesPerS - b.medianBytesPerS)
    .map(([name, l]) => `${name} ${gbps(l.medianBytesPerS)}`);
  return [
    `Training: ${r.training.migrations} migrations under QEMU's rule, ${r.training.completed} completed, ` +
      `${r.training.recordsPushed} records into ${r.dbPath} (${r.training.prefix}*)` +
      (r.recordsRejected > 0 ? ` (${r.recordsRejected} REJECTED: ${r.firstRejection ?? ''})` : ''),
    `Dated ${new Date(r.startedAtMs).toISOString()} (the run's wall time)` +
      (r.replacedMigrations > 0 ? `; replaced the ${r.replacedMigrations} migrations of an earlier run with seed ${r.seed}` : ''),
    `Model: blackout link ${link === undefined ? '–' : `${gbps(link.medianBytesPerS)} GB/s`} pooled` +
      (named.length === 0 ? '' : ` (per link, GB/s: ${named.join(', ')})`) +
      `, fixed ${r.model.fixed.medianMs.toFixed(1)} ms, ` +
      (cal === undefined ? 'not calibrated' : `${cal.n} calibration scores (${cal.method ?? '?'})${boundRank(cal.logRatioScores, r.alpha, cal.score === 'scaled' ? cal.deviceScaleWeight : undefined)}`),
    `Held-out fleet: ${r.heldOut} migrations, the same VMs and noise under every policy, recorded as ${r.heldOutPrefix}<policy>/*; governor α = ${r.alpha}`,
    '',
    policyTable(r.policies),
    '',
    'miss rate = missed deadlines / migrations attempted (aborted migrations stay on the source and do not miss);',
    'useful = completed within the deadline / attempted; blackout and total time are over completed migrations;',
    'oracle = the earliest poll whose true blackout fits; oracle-throttle = the same, capping the dirty rate at every poll that does not fit.',
    ...(r.governorAlpha === null
      ? []
      : [
          `Governor adaptive α: ${r.governorAlpha.current.toFixed(4)} after ${r.governorAlpha.attempts} attempts, ${r.governorAlpha.misses} misses ` +
            `(guarantee: ≤ ${r.governorAlpha.missAllowance.toFixed(1)} misses over these attempts, whatever the fleet)`,
        ]),
    ...(r.governorKnapsack === null
      ? []
      : [
          `Governor risk knapsack: level ${r.governorKnapsack.level.toFixed(4)}, budget ${r.governorKnapsack.budget.toFixed(4)} per attempt after ` +
            `${r.governorKnapsack.attempts} attempts, ${r.governorKnapsack.misses} misses ` +
            `(guarantee: ≤ ${r.governorKnapsack.missAllowance.toFixed(1)} misses over these attempts, whatever the fleet)`,
        ]),
    `Governor vs oracle mean total time: ${r.timeRatioGovernorVsOracle.toFixed(2)}× ` +
      `(${r.pairedTimeRatioGovernorVsOracle.toFixed(2)}× over the ${r.pairedMigrations} migrations both completed)`,
    `Runtime: ${secs(r.runtimeMs.total)} (training ${secs(r.runtimeMs.train)}, fit ${secs(r.runtimeMs.fit)}, replay ${secs(r.runtimeMs.replay)}` +
      (r.report === null ? ')' : `, report ${secs(r.runtimeMs.report)})`),
    ...(r.report === null ? [] : [`HTML report of the store: ${r.report.path}`]),
  ].join('\n');
}
