/**
 * `vfio-sla eval`: how well the blackout predictor does on real QEMU migrations, by
 * cross-validation over migrations, next to QEMU's own `expected-downtime` and the naive
 * remaining-bytes / pre-copy-bandwidth rule.
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { evaluateQmpFiles, MIN_EVAL_MIGRATIONS } from '../../app/eval.js';
import type { EvalFolds, EvalReport } from '../../estimators/cross-validate.js';
import type { TotalTimeEvalReport } from '../../estimators/total-time-eval.js';
import type { ExcludedMigration } from '../../qemu/qmp-eval.js';
import { UsageError, parseCommandArgs, type CliIo, type Command } from '../command.js';
import { visible } from '../../report/table-format.js';

const HELP = `Usage: vfio-sla eval <dataset-dir-or-files...> [--alpha <a>] [--folds loo|<k>|category]
                     [--priors <file> | --no-priors] [--runs] [--json]

Evaluates the blackout predictor on real QEMU migration telemetry in either QMP form (a QMP
wire log of query-migrate replies with "ts" and events, or JSON arrays of polls
[{"t_monotonic"|"ts", "query_migrate": {...}}]); directories are searched recursively for
*.json, *.jsonl, *.ndjson, *.log and *.qmp files.

Each pre-copy migration is predicted at its last active poll before the switchover, from what
was known then, by a model fitted and calibrated on the other migrations only
(cross-validation by migration), and compared with the downtime QEMU then measured. Post-copy
runs and runs whose VM was already paused are left out and listed with the reason. Errors are
|log2(predicted / actual)| (0.585 = within 1.5x); coverage is the share of runs whose actual
downtime <= our 1 - alpha bound.

It also evaluates the time-to-completion bound (decide's predictedTotalMs): at every pre-copy poll
after QEMU's first dirty-rate measurement, the AVG pre-copy projection to QEMU's switchover size
(bandwidth x downtime-limit), its 1 - alpha bound from the other migrations' scores, against the
time the migration then still ran (same folds), in all and per category (a migration id's first
path segment: the dataset's scenario folder).

Options:
  --alpha <a>           miscoverage of the bound, in (0, 1) (default 0.1)
  --folds loo|<k>|category
                        leave-one-out (default), k folds by migration, or leave one
                        category out: a migration's category is its id's first path segment
                        (the dataset's scenario folder), and each category is predicted by a
                        model fitted and calibrated on the other categories only (how the
                        predictors do on a workload they have never seen)
  --priors <file>       prior model (default: the package's models/priors.json)
  --no-priors           fit from the data only
  --runs                also list every run's actual, median and bound (in --json: "runs")
  --json                print one JSON object:
                        {"n", "alpha", "ours": {"medianAbsLog2Err", "p90AbsLog2Err", "coverage",
                        "meanBoundMs"}, "qemuExpected": {"medianAbsLog2Err"},
                        "naive": {"medianAbsLog2Err"}, "totalTime": {"migrations", "polls",
                        "coverage", "coveragePerMigration", "nonConvergingShare",
                        "medianAbsLog2Err", "p90AbsLog2Err", "medianBoundOverActual",
                        "byCategory": [{"category", the same figures}]},
                        "excluded": [{"migrationId", "reason"}]}
  -h, --help            this help

Exit status: 0 evaluated; 1 fewer than 2 usable migrations, or two different runs with one migration id
(their folder/file names; both files named, nothing merged); 2 usage error.

Example:
  vfio-sla eval ../shared/datasets/qemu-kvm-postgres-migration --alpha 0.1`;

const QMP_EXTENSIONS = new Set(['.json', '.jsonl', '.ndjson', '.log', '.qmp']);

interface EvalArgs {
  readonly paths: readonly string[];
  /** The paths as given, for messages. */
  readonly given: readonly string[];
  readonly alpha: number;
  readonly folds: EvalFolds;
  readonly priors: string | null | undefined;
  readonly runs: boolean;
  readonly json: boolean;
}

function parse(argv: readonly string[], io: CliIo): EvalArgs {
  const parsed = parseCommandArgs(argv, {
      alpha: { type: 'string' },
      folds: { type: 'string' },
      priors: { type: 'string' },
      'no-priors': { type: 'boolean', default: false },
      runs: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    }, { allowPositionals: true });
  const v = parsed.values;
  if (parsed.positionals.length === 0) throw new UsageError('no dataset directory or files given');
  const alpha = v.alpha === undefined ? 0.1 : Number(v.alpha);
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha must be a number in (0, 1), got '${v.alpha ?? ''}'`);
  let folds: EvalFolds = 'loo';
  if (v.folds === 'category') folds = 'category';
  else if (v.folds !== undefined && v.folds !== 'loo') {
    folds = Number(v.folds);
    if (!Number.isInteger(folds) || folds < 2) throw new UsageError(`--folds must be 'loo', 'category' or an integer ≥ 2, got '${v.folds}'`);
  }
  if (v.priors !== undefined && v['no-priors']) throw new UsageError('--priors and --no-priors exclude each other');
  return {
    paths: parsed.positionals.map((p) => resolve(io.cwd, p)),
    given: parsed.positionals,
    alpha,
    folds,
    priors: v['no-priors'] ? null : v.priors === undefined ? undefined : resolve(io.cwd, v.priors),
    runs: v.runs,
    json: v.json,
  };
}

/** QMP files under `path` (recursively, sorted), or `path` itself. */
function qmpFiles(path: string, given: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UsageError(`not a readable file or directory: '${given}'`);
  }
  if (st.isFile()) return [path];
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && QMP_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p);
    }
  };
  walk(path);
  return out;
}

/** The `--json` object. */
export function evalJson(report: EvalReport, total: TotalTimeEvalReport, excluded: readonly ExcludedMigration[], withRuns: boolean): Record<string, unknown> {
  return {
    n: report.n,
    alpha: report.alpha,
    ours: {
      medianAbsLog2Err: report.ours.medianAbsLog2Err,
      p90AbsLog2Err: report.ours.p90AbsLog2Err,
      coverage: report.ours.coverage,
      meanBoundMs: report.ours.meanBoundMs,
      calibratedShare: report.ours.calibratedShare,
    },
    qemuExpected: { medianAbsLog2Err: report.qemuExpected.medianAbsLog2Err, n: report.qemuExpected.n },
    naive: { medianAbsLog2Err: report.naive.medianAbsLog2Err, n: report.naive.n },
    totalTime: { ...total },
    excluded,
    ...(withRuns ? { runs: report.runs } : {}),
  };
}

/** `items` joined by ", " in lines of at most `width` characters. */
function wrap(items: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const item of items) {
    if (cur.length > 0 && cur.length + item.length + 2 > width) {
      lines.push(`${cur},`);
      cur = item;
    } else cur = cur.length === 0 ? item : `${cur}, ${item}`;
  }
  if (cur.length > 0) lines.push(cur);
  return lines;
}

function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

function foldsName(folds: EvalFolds): string {
  return folds === 'loo' ? 'leave-one-out by migration' : folds === 'category' ? 'leave-one-category-out' : `${folds}-fold by migration`;
}

function textReport(r: EvalReport, t: TotalTimeEvalReport, excluded: readonly ExcludedMigration[], args: EvalArgs): string {
  const row = (name: string, med: number, p90: number | undefined, n: number): string =>
    `  ${name.padEnd(34)} ${fmt(med).padStart(8)} ${(p90 === undefined ? '' : fmt(p90)).padStart(8)} ${`${fmt(2 ** med, 2)}x`.padStart(9)}   n=${n}`;
  const lines = [
    `eval: ${r.n} pre-copy migrations, ${foldsName(args.folds)}, alpha = ${r.alpha}`,
    `  ${'predictor'.padEnd(34)} ${'med|log2|'.padStart(8)} ${'p90'.padStart(8)} ${'x(median)'.padStart(9)}`,
    row('ours (median)', r.ours.medianAbsLog2Err, r.ours.p90AbsLog2Err, r.ours.n),
    row('QEMU expected-downtime', r.qemuExpected.medianAbsLog2Err, r.qemuExpected.p90AbsLog2Err, r.qemuExpected.n),
    row('naive remaining / pre-copy bw', r.naive.medianAbsLog2Err, r.naive.p90AbsLog2Err, r.naive.n),
    `  our ${fmt((1 - r.alpha) * 100, 0)} % bound: coverage ${fmt(r.ours.coverage * 100, 1)} %, mean ${fmt(r.ours.meanBoundMs, 1)} ms, ` +
      `calibrated ${fmt(r.ours.calibratedShare * 100, 0)} % of runs`,
    `time to completion: ${t.polls} pre-copy polls of ${t.migrations} migrations; ${fmt(t.nonConvergingShare * 100, 1)} % projected not to converge`,
    `  median med|log2| ${fmt(t.medianAbsLog2Err)} (p90 ${fmt(t.p90AbsLog2Err)}) where it converges; ${fmt((1 - t.alpha) * 100, 0)} % bound: ` +
      `coverage ${fmt(t.coverage * 100, 1)} % of polls, ${fmt(t.coveragePerMigration * 100, 1)} % per migration, median bound/actual ${fmt(t.medianBoundOverActual, 2)}`,
    ...t.byCategory.map((c) =>
      `    ${c.category}: ${c.polls} polls of ${c.migrations}, ${fmt(c.nonConvergingShare * 100, 1)} % not converging, ` +
        `med|log2| ${fmt(c.medianAbsLog2Err)} where it converges, coverage ${fmt(c.coverage * 100, 1)} %`),
  ];
  if (excluded.length > 0) {
    lines.push(`left out ${excluded.length} migration${excluded.length === 1 ? '' : 's'}:`);
    const byReason = new Map<string, string[]>();
    for (const e of excluded) byReason.set(e.reason, [...(byReason.get(e.reason) ?? []), e.migrationId]);
    for (const [reason, ids] of byReason) lines.push(`  ${ids.length} × ${reason}:`, ...wrap(ids, 96).map((l) => `    ${l}`));
  }
  if (args.runs) {
    lines.push('runs (ms): actual, our median, our bound, QEMU expected, naive');
    for (const x of r.runs) {
      lines.push(
        `  ${x.migrationId}: ${fmt(x.actualMs, 1)}, ${fmt(x.medianMs, 1)}, ${fmt(x.boundMs, 1)}${x.actualMs > x.boundMs ? ' (missed)' : ''}, ` +
          `${x.qemuExpectedMs === undefined ? 'n/a' : fmt(x.qemuExpectedMs, 0)}, ${x.naiveMs === undefined ? 'n/a' : fmt(x.naiveMs, 0)}`,
      );
    }
  }
  return lines.join('\n');
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parse(argv, io);
  const files = args.paths.flatMap((p, i) => qmpFiles(p, args.given[i] ?? p));
  const { input, evaluated } = evaluateQmpFiles({ files, priors: args.priors, alpha: args.alpha, folds: args.folds });
  if (input.errors.length > 0) {
    io.stderr.write(`vfio-sla eval: ${input.errors.length} unreadable line${input.errors.length === 1 ? '' : 's'} skipped, first: ` +
      `${input.errors.slice(0, 3).map((e) => `${visible(e.file)}:${e.line}: ${visible(e.reason)}`).join('; ')}\n`);
  }
  if (input.collisions.length > 0) {
    for (const c of input.collisions) io.stderr.write(`vfio-sla eval: ${visible(c.file)}:${c.line}: ${visible(c.reason)}\n`);
    return 1;
  }
  if (evaluated === undefined) {
    io.stderr.write(`vfio-sla eval: ${input.cases.length} usable pre-copy migration(s) in ${files.length} file(s); need at least ${MIN_EVAL_MIGRATIONS}\n`);
    return 1;
  }
  const { blackout: report, totalTime: total } = evaluated;
  io.stdout.write(args.json ? `${JSON.stringify(evalJson(report, total, input.excluded, args.runs), null, 2)}\n` : `${textReport(report, total, input.excluded, args)}\n`);
  return 0;
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'cross-validate the blackout predictor on real QEMU migration telemetry',
  help: HELP,
  run,
};
