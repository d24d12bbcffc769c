/**
 * `vfio-sla stats`: latency per (device model, arc), outcomes per policy, and per migration the
 * predicted bound against the actual blackout — as terminal tables, JSON, CSV or Markdown.
 */
import { analyseDb } from '../../app/analyse.js';
import type { StoreAnalysis } from '../../report/analyse.js';
import { choiceOption, countOption, existingDb, filterFromOptions, FILTER_OPTION_SPECS, parseOptions } from '../analysis-options.js';
import { filterParts, nothingMatched } from '../../report/describe.js';
import { worstOutcomes } from '../../report/outcome-stats.js';
import { ARC_COLUMNS, ATTEMPT_COLUMNS, OUTCOME_COLUMNS, POLICY_COLUMNS } from '../../report/stats-tables.js';
import { renderTable, type TextFormat } from '../../report/table-format.js';
import { UsageError, type CliIo, type Command } from '../command.js';
import { createProgress } from '../progress.js';

const HELP = `Usage: vfio-sla stats [--db <path>] [--device-model <M>] [--arc <FROM:TO>] [--since <T>]
                      [--policy <P>] [--migration-prefix <id>] [--format table|json|csv|md] [--only arcs|attempts|policies|migrations]
                      [--limit <n>]

Which arc blew the downtime, on which device model, since when:
  - per device model x arc: arcs run (n), failed share, latency p50/p90/p99/max of the
    completed arcs, and the robust line latency = fixed + slope x size fitted to them
    (Theil-Sen, as 'vfio-sla fit' does, without priors);
  - per policy, every attempt: attempted, completed, met, missed, miss rate, aborted (and by
    reason), cancelled, failed, mean total time - aborts beside misses (a store written before
    attempts were recorded counts its outcomes, marked *);
  - per policy (governor, qemu, ...): outcomes, deadlines met, share above the predicted bound;
  - per migration: the predicted bound against the actual blackout, met or missed, worst first.

Options:
  --db <path>            database file (default: data/vfio-sla.db under the current directory)
  --device-model <M>     only arcs of this device model, and migrations that ran one
  --arc <FROM:TO>        only this arc (state names), e.g. PRE_COPY_P2P:STOP_COPY (or
                         'PRE_COPY_P2P>STOP_COPY', quoted: an unquoted > redirects)
  --since <T>            only arcs started / outcomes decided at or after T: an ISO date or
                         date-time (UTC unless it names a zone), epoch ms, or a duration back
                         from now such as 36h or 7d
  --policy <P>           only outcomes and attempts of this policy
  --migration-prefix <id>
                         only migrations whose id starts with this (e.g. demo/s1/heldout/)
  --format <f>           table (default), json, csv (needs --only: one table per file), md
  --json                 same as --format json
  --only <table>         print only this table: arcs, attempts, policies or migrations
  --limit <n>            migrations listed, worst first (default 20; 0: all)
  -h, --help             this help

Latencies are ms; slopes are ms per MB (10^6 bytes) in tables, ms per byte in JSON and CSV.
A progress bar is drawn on stderr when it is a terminal (not when CI=true).

Exit status: 0 printed; 1 the database could not be read; 2 usage error (a --db that does not exist included).

Examples:
  vfio-sla stats --device-model mlx5-cx7 --since 7d
  vfio-sla stats --arc PRE_COPY_P2P:STOP_COPY --format md
  vfio-sla stats --only migrations --limit 0 --format csv > migrations.csv`;

const FORMATS = ['table', 'json', 'csv', 'md'] as const;
const TABLES = ['arcs', 'attempts', 'policies', 'migrations'] as const;
type Table = (typeof TABLES)[number];

interface StatsArgs {
  readonly db: string;
  readonly filter: ReturnType<typeof filterFromOptions>;
  readonly format: (typeof FORMATS)[number];
  readonly only: Table | undefined;
  readonly limit: number;
}

function parse(argv: readonly string[], io: CliIo): StatsArgs {
  const v = parseOptions(argv, {
    db: { type: 'string' },
    ...FILTER_OPTION_SPECS,
    format: { type: 'string' },
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
    limit: { type: 'string' },
  });
  if (v.json && v.format !== undefined && v.format !== 'json') throw new UsageError(`--json and --format ${v.format} exclude each other`);
  const format = v.json ? 'json' : choiceOption('format', v.format, FORMATS, 'table');
  const only = v.only === undefined ? undefined : choiceOption('only', v.only, TABLES, 'arcs');
  if (format === 'csv' && only === undefined) throw new UsageError('--format csv writes one table: add --only arcs, --only policies or --only migrations');
  const filter = filterFromOptions(v, Date.now());
  return { db: existingDb(v.db, io.cwd), filter, format, only, limit: countOption('limit', v.limit, 20) };
}

function describeFilter(a: StatsArgs): string {
  const parts = filterParts(a.filter);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

function textReport(args: StatsArgs, a: StoreAnalysis, format: Exclude<TextFormat, 'csv'>): string {
  const heading = (s: string): string => (format === 'md' ? `### ${s}\n\n` : `${s}\n\n`);
  const worst = worstOutcomes(a.outcomes, args.limit);
  const sections: Array<[Table, string]> = [
    [
      'arcs',
      heading(`Arc latency by device model x arc: ${a.arcs.scanned.toLocaleString('en-US')} arcs${describeFilter(args)}`) +
        (a.arcs.stats.length === 0 ? 'no arcs\n' : renderTable(ARC_COLUMNS, a.arcs.stats, format)),
    ],
    [
      'attempts',
      heading(`Attempts by policy: ${a.attempts.length.toLocaleString('en-US')} attempts`) +
        (a.attemptSummaries.length === 0 ? 'no attempts or outcomes\n' : renderTable(ATTEMPT_COLUMNS, a.attemptSummaries, format)) +
        (a.attemptSummaries.some((p) => !p.attemptsRecorded) ? '* no attempt records: counted from outcomes (aborts unknown)\n' : ''),
    ],
    [
      'policies',
      heading(`Outcomes by policy: ${a.outcomes.length.toLocaleString('en-US')} outcomes`) +
        (a.policies.length === 0 ? 'no outcomes\n' : renderTable(POLICY_COLUMNS, a.policies, format)),
    ],
    [
      'migrations',
      heading(`Migrations, worst first (actual - deadline): ${worst.length} of ${a.outcomes.length.toLocaleString('en-US')}`) +
        (worst.length === 0 ? 'no outcomes\n' : renderTable(OUTCOME_COLUMNS, worst, format) + qemuLine(a)),
    ],
  ];
  return sections
    .filter(([name]) => args.only === undefined || args.only === name)
    .map(([, text]) => text)
    .join('\n');
}

/** Which QEMU the migrations ran (`stack` records): calibration and arc placement depend on it. */
function qemuLine(a: StoreAnalysis): string {
  if (a.qemuVersions.every((v) => v.qemuVersion === null)) return '';
  return `source QEMU: ${a.qemuVersions.map((v) => `${v.qemuVersion ?? 'unknown'} x${v.migrations}`).join(', ')}\n`;
}

function jsonReport(args: StatsArgs, a: StoreAnalysis): string {
  const worst = worstOutcomes(a.outcomes, args.limit);
  const all = {
    db: args.db,
    filter: a.filter,
    arcs: a.arcs.stats,
    attempts: a.attemptSummaries,
    policies: a.policies,
    migrations: {
      total: a.outcomes.length,
      shown: worst.length,
      qemuVersions: a.qemuVersions,
      rows: worst.map((o) => ({ ...o, overDeadlineMs: o.actualBlackoutMs - o.deadlineMs, withinBound: o.actualBlackoutMs <= o.predictedBlackoutMs })),
    },
  };
  const picked = args.only === undefined ? all : { db: all.db, filter: all.filter, [args.only]: all[args.only] };
  return `${JSON.stringify(picked, null, 2)}\n`;
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parse(argv, io);
  const progress = createProgress(io.stderr, io.env, { label: 'stats: arcs', total: 0 });
  let found: ReturnType<typeof analyseDb>;
  try {
    found = analyseDb(args.db, args.filter, progress.active ? (done, total) => progress.update(done, total) : undefined);
  } finally {
    progress.finish();
  }
  const { analysis, storeRange } = found;
  if (storeRange !== undefined) io.stderr.write(`vfio-sla stats: ${nothingMatched(args.filter, storeRange)}\n`);
  if (args.format === 'json') io.stdout.write(jsonReport(args, analysis));
  else if (args.format === 'csv') {
    const only = args.only ?? 'arcs';
    const worst = worstOutcomes(analysis.outcomes, args.limit);
    io.stdout.write(
      only === 'arcs'
        ? renderTable(ARC_COLUMNS, analysis.arcs.stats, 'csv')
        : only === 'attempts'
          ? renderTable(ATTEMPT_COLUMNS, analysis.attemptSummaries, 'csv')
          : only === 'policies'
            ? renderTable(POLICY_COLUMNS, analysis.policies, 'csv')
            : renderTable(OUTCOME_COLUMNS, worst, 'csv'),
    );
  } else io.stdout.write(textReport(args, analysis, args.format));
  return 0;
}

/** The `stats` command. */
export const statsCommand: Command = {
  name: 'stats',
  summary: 'latency per device model x arc, outcomes per policy, bound vs actual per migration',
  help: HELP,
  run,
};
