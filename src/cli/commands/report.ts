/**
 * `vfio-sla report`: the store as one self-contained HTML file — charts rendered to inline SVG
 * at build time, no script, no network; opens from `file://`.
 */
import { resolve } from 'node:path';
import type { ReportOptions } from '../../report/build-report.js';
import { countOption, existingDb, filterFromOptions, FILTER_OPTION_SPECS, parseOptions } from '../analysis-options.js';
import { writeDbReport } from '../../app/analyse.js';
import { nothingMatched } from '../../report/describe.js';
import { UsageError, type CliIo, type Command } from '../command.js';
import { createProgress } from '../progress.js';
import { visible } from '../../report/table-format.js';

const HELP = `Usage: vfio-sla report --out <file.html> [--db <path>] [--device-model <M>] [--arc <FROM:TO>]
                       [--since <T>] [--policy <P>] [--migration-prefix <id>] [--migration <id>]... [--worst <n>]
                       [--title <text>] [--json]

Writes one HTML file that needs nothing else (no script, no network; works from file://):
  - arc latency vs device state size, per device model and arc, with the fitted line
    (fixed + slope x size, Theil-Sen) and its p99 bound, and the per-arc table;
  - the empirical CDF of the blackout per policy against the deadline;
  - calibration: predicted bound vs actual blackout, the y = x line, the share above it;
  - pre-copy convergence (RAM remaining and rho per pass) of chosen migrations;
  - the worst outcomes, each with the arcs of its blackout that overran their line most.
Charts are drawn with Vega-Lite at build time; over millions of arcs they plot a sample
(at most ~2,000 points per chart) while every table and quantile uses all the data.

Options:
  --out <file>           the HTML file to write (e.g. out/report.html); required
  --db <path>            database file (default: data/vfio-sla.db under the current directory)
  --device-model <M>     only arcs of this device model, and migrations that ran one
  --arc <FROM:TO>        only this arc, e.g. PRE_COPY_P2P:STOP_COPY (or 'PRE_COPY_P2P>STOP_COPY', quoted)
  --since <T>            only arcs started / outcomes decided at or after T: ISO date or
                         date-time (UTC unless it names a zone), epoch ms, or e.g. 36h, 7d
  --policy <P>           only outcomes of this policy
  --migration-prefix <id>
                         only migrations whose id starts with this (e.g. demo/s1/heldout/)
  --migration <id>       a migration for the convergence chart (repeatable; default: the
                         worst outcomes with two or more pre-copy passes)
  --worst <n>            outcomes in the worst-outcomes table (default 10)
  --title <text>         page title (default: vfio-sla latency report)
  --json                 print a summary of the report as JSON
  -h, --help             this help

A progress bar is drawn on stderr when it is a terminal (not when CI=true).

Exit status: 0 report written; 1 the database could not be read or a chart failed; 2 usage error (a --db that does not exist, or an --out that exists and is not a regular file, included).

Example:
  vfio-sla report --out out/report.html --since 7d && xdg-open out/report.html`;

interface ReportArgs {
  readonly out: string;
  readonly db: string;
  readonly options: ReportOptions;
  readonly json: boolean;
}

function parse(argv: readonly string[], io: CliIo): ReportArgs {
  const v = parseOptions(argv, {
    out: { type: 'string' },
    db: { type: 'string' },
    ...FILTER_OPTION_SPECS,
    migration: { type: 'string', multiple: true, default: [] },
    worst: { type: 'string' },
    title: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (v.out === undefined) throw new UsageError('--out <file.html> is required');
  const filter = filterFromOptions(v, Date.now());
  const db = existingDb(v.db, io.cwd);
  const options: ReportOptions = {
    filter,
    worst: countOption('worst', v.worst, 10),
    ...(v.migration.length > 0 ? { migrations: v.migration } : {}),
    ...(v.title === undefined ? {} : { title: v.title }),
  };
  return { out: resolve(io.cwd, v.out), db, options, json: v.json };
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parse(argv, io);
  const progress = createProgress(io.stderr, io.env, { label: 'report: arcs', total: 0 });
  try {
    const { summary, storeRange } = await writeDbReport(args.db, args.out, {
      ...args.options,
      ...(progress.active ? { onProgress: (done: number, total: number) => progress.update(done, total) } : {}),
    });
    progress.finish();
    for (const w of summary.warnings) io.stderr.write(`vfio-sla report: ${w}\n`);
    if (storeRange !== undefined) io.stderr.write(`vfio-sla report: ${nothingMatched(args.options.filter ?? {}, storeRange)}\n`);
    if (args.json) {
      io.stdout.write(`${JSON.stringify({ out: args.out, db: args.db, ...summary }, null, 2)}\n`);
    } else {
      io.stdout.write(
        `wrote ${visible(args.out)} (${(summary.bytes / 1e6).toFixed(1)} MB): ${summary.arcs.toLocaleString('en-US')} arcs in ${summary.arcGroups} groups, ` +
          `${summary.outcomes.toLocaleString('en-US')} outcomes, charts: ${summary.charts.join(', ') || 'none'}\n`,
      );
    }
    return 0;
  } finally {
    progress.finish();
  }
}

/** The `report` command. */
export const reportCommand: Command = {
  name: 'report',
  summary: 'write a self-contained HTML report: latency vs size, blackout ECDF, calibration, worst misses',
  help: HELP,
  run,
};
