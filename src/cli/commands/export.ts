/**
 * `vfio-sla export`: the store's telemetry as Parquet partitioned by day, for a fleet's engine
 * (DuckDB, Spark, BigQuery); `vfio-sla fit --parquet <dir>` fits a model from such files.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { exportStore } from '../../app/export.js';
import { existingDb, parseOptions, sinceOption } from '../analysis-options.js';
import { EXPORT_TABLES } from '../../report/export-schema.js';
import { nothingMatched } from '../../report/describe.js';
import { UsageError, type CliIo, type Command } from '../command.js';
import { createProgress } from '../progress.js';
import { visible } from '../../report/table-format.js';

const HELP = `Usage: vfio-sla export --out <dir> [--db <path>] [--host <name>] [--since <T>] [--json]

Writes the store's telemetry as Parquet files, one folder per table, partitioned by the
migration's UTC day (Hive layout):

  <dir>/arcs/day=2025-03-01/<host>_0.parquet
  <dir>/sizes/...  <dir>/transfers/...  <dir>/ram/...  <dir>/outcomes/...

Columns are snake_case with units (latency_ms, stop_copy_bytes, ...) plus host; all rows of a
migration fall on the same day. Exports of many hosts can share one directory: each host
writes its own files, and re-exporting a host replaces its files of the days it writes.

Options:
  --out <dir>            directory to write into (created); required
  --db <path>            database file (default: data/vfio-sla.db under the current directory)
  --host <name>          host name in every row and file name (default: this machine's name)
  --since <T>            only migrations of T's UTC day and later (whole days): ISO date or
                         date-time, epoch ms, or a duration back from now such as 2d
  --json                 print a summary as JSON (its reader: how the store was read, with
                         our SQLite column extension, built with cc on first use, or one
                         value per row and why)
  -h, --help             this help

A progress bar is drawn on stderr when it is a terminal (not when CI=true).

Exit status: 0 written; 1 the database could not be read or DuckDB failed; 2 usage error (a --db that does not exist, or an --out that exists and is not a directory, included).

Examples:
  vfio-sla export --out /srv/fleet/telemetry --since 1d
  duckdb -c "SELECT device_model, arc, quantile_cont(latency_ms, 0.99) AS p99_ms
             FROM read_parquet('/srv/fleet/telemetry/arcs/*/*.parquet', hive_partitioning = true)
             WHERE ok GROUP BY ALL ORDER BY p99_ms DESC"
  vfio-sla fit --parquet /srv/fleet/telemetry --out models/fleet.json`;

interface ExportArgs {
  readonly out: string;
  readonly db: string;
  readonly host: string;
  readonly sinceMs: number | undefined;
  readonly json: boolean;
}

function parse(argv: readonly string[], io: CliIo): ExportArgs {
  const v = parseOptions(argv, {
    out: { type: 'string' },
    db: { type: 'string' },
    host: { type: 'string' },
    since: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (v.out === undefined) throw new UsageError('--out <dir> is required');
  if (v.host !== undefined && v.host.trim() === '') throw new UsageError(`--host must name the host, got '${v.host}'`);
  const sinceMs = sinceOption(v.since, Date.now());
  return { out: resolve(io.cwd, v.out), db: existingDb(v.db, io.cwd), host: v.host ?? hostname(), sinceMs, json: v.json };
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parse(argv, io);
  const progress = createProgress(io.stderr, io.env, { label: 'export: rows', total: 0 });
  try {
    const { storeRange, ...summary } = await exportStore({
      db: args.db,
      out: args.out,
      host: args.host,
      sinceMs: args.sinceMs,
      onProgress: progress.active ? (done: number, total: number) => progress.update(done, total) : undefined,
    });
    progress.finish();
    if (storeRange !== undefined) {
      io.stderr.write(`vfio-sla export: ${nothingMatched(args.sinceMs === undefined ? {} : { sinceMs: args.sinceMs }, storeRange)}\n`);
    }
    if (summary.outOfRange.length > 0) {
      io.stderr.write(
        `vfio-sla export: left out ${summary.outOfRange.length} migration(s) whose times are past the year 9999 (bad stored records): ` +
          `${summary.outOfRange.slice(0, 5).map(visible).join(', ')}${summary.outOfRange.length > 5 ? ', …' : ''}\n`,
      );
    }
    if (args.json) {
      io.stdout.write(`${JSON.stringify({ db: args.db, ...summary }, null, 2)}\n`);
    } else {
      const tables = EXPORT_TABLES.map((t) => `${t} ${summary.tables[t].rows.toLocaleString('en-US')}`).join(', ');
      const days = Math.max(...EXPORT_TABLES.map((t) => summary.tables[t].days));
      io.stdout.write(`exported ${summary.migrations.toLocaleString('en-US')} migrations of host ${visible(summary.host)} to ${visible(summary.dir)}: ${tables} rows over ${days} days, ${summary.files.length} files\n`);
    }
    return 0;
  } finally {
    progress.finish();
  }
}

/** The `export` command. */
export const exportCommand: Command = {
  name: 'export',
  summary: 'write arcs, sizes, transfers, RAM polls and outcomes as Parquet partitioned by day',
  help: HELP,
  run,
};
