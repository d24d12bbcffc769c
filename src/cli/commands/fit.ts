/**
 * `vfio-sla fit`: fit a model from the store's telemetry, or from a `vfio-sla export` Parquet
 * directory (per-arc latencies, blackout link, fixed cost, RAM carry, conformal calibration)
 * and write it as `models/<name>.json`.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fitModelFile } from '../../app/fit.js';
import type { FittedModel } from '../../estimators/types.js';
import { dbOption, NOTHING_TO_READ } from '../analysis-options.js';
import { UsageError, parseCommandArgs, type CliIo, type Command } from '../command.js';
import { visible } from '../../report/table-format.js';

const HELP = `Usage: vfio-sla fit --out <file> [--db <path> | --parquet <dir>] [--priors <file> | --no-priors]
                    [--name <name>] [--exclude <id-prefix>]... [--include-simulated] [--folds <k>]
                    [--json]

Fits the blackout model from the telemetry in the store and writes it as JSON:
  - per (device model, arc): latency = fixed + slope x size (Theil-Sen, robust to stalls),
    residual quantiles, shrunk toward the prior when samples are few;
  - the blackout link rate and the VM's fixed cost, from past blackouts only (never the
    throttled pre-copy rate), and the RAM the final dirty sync adds;
  - a conformal calibration of the bound from migrations with outcomes, each scored by a
    model not fitted on it (K-fold cross-fit; split conformal from 500 migrations on), pooled
    and per stack (QEMU major x device models) for each stack with at least 9 migrations.
Simulated migrations (the demo's, ids under demo/) are left out unless --include-simulated:
a model for real hosts is fitted on real migrations only. The output says what went in.

Options:
  --out <file>          where to write the model (e.g. models/host1.json); required
  --db <path>           database file (default: data/vfio-sla.db under the current directory)
  --parquet <dir>       fit from a 'vfio-sla export' directory instead (one host's or a
                        fleet's Parquet files; ids of several hosts become <id>@<host>)
  --priors <file>       prior model to shrink toward (default: the package's models/priors.json)
  --no-priors           fit from data only
  --name <name>         the model's name (default: the --out file name without .json)
  --exclude <prefix>    leave out migrations whose id starts with <prefix> (repeatable), e.g.
                        post-copy or paused-VM runs whose "downtime" is not a pre-copy blackout
  --include-simulated   fit on the demo's simulated migrations too (ids under demo/)
  --folds <k>           folds of the cross-fit calibration (default 10)
  --json                print a summary of the model as JSON (fitting from a store, its reader:
                        with our SQLite column extension, built with cc on first use, or one
                        value per row and why)
  -h, --help            this help

Exit status: 0 model written; 1 the store or the priors could not be read; 2 usage error (a --db that does not exist, or an --out that exists and is not a regular file, included).

Example:
  vfio-sla import ../shared/datasets/qemu-kvm-postgres-migration/raw/*/mig-stats-run-*.json
  vfio-sla fit --out models/lab.json --exclude Postcopy --exclude Stop_Copy_4T
  vfio-sla fit --parquet /srv/fleet/telemetry --out models/fleet.json`;

interface FitArgs {
  readonly out: string;
  readonly db: string;
  /** A Parquet export directory to fit from instead of `db`. */
  readonly parquet: string | undefined;
  /** `null`: --no-priors; undefined: the package's priors. */
  readonly priors: string | null | undefined;
  readonly name: string;
  readonly exclude: readonly string[];
  readonly includeSimulated: boolean;
  readonly folds: number;
  readonly json: boolean;
}

function parse(argv: readonly string[], io: CliIo): FitArgs {
  const parsed = parseCommandArgs(argv, {
      out: { type: 'string' },
      db: { type: 'string' },
      parquet: { type: 'string' },
      priors: { type: 'string' },
      'no-priors': { type: 'boolean', default: false },
      name: { type: 'string' },
      exclude: { type: 'string', multiple: true, default: [] },
      'include-simulated': { type: 'boolean', default: false },
      folds: { type: 'string' },
      json: { type: 'boolean', default: false },
    });
  const v = parsed.values;
  if (v.out === undefined) throw new UsageError('--out <file> is required');
  // '' is a prefix of every id: it would leave out everything and still exit 0.
  if (v.exclude.some((p) => p.length === 0)) throw new UsageError("--exclude '' would leave out every migration; give an id prefix");
  if (v.priors !== undefined && v['no-priors']) throw new UsageError('--priors and --no-priors exclude each other');
  const folds = v.folds === undefined ? 10 : Number(v.folds);
  if (!Number.isInteger(folds) || folds < 2) throw new UsageError(`--folds must be an integer ≥ 2, got '${v.folds ?? ''}'`);
  if (v.db !== undefined && v.parquet !== undefined) throw new UsageError('--db and --parquet exclude each other');
  const parquet = v.parquet === undefined ? undefined : resolve(io.cwd, v.parquet);
  if (parquet !== undefined && !(existsSync(parquet) && statSync(parquet).isDirectory())) throw new UsageError(`--parquet: no directory at '${v.parquet ?? ''}'`);
  const db = dbOption(v.db, io.cwd, NOTHING_TO_READ);
  if (parquet === undefined && !existsSync(db)) throw new UsageError(`--db: no database at '${v.db ?? db}' (import telemetry first: vfio-sla import)`);
  const out = resolve(io.cwd, v.out);
  return {
    out,
    db,
    parquet,
    priors: v['no-priors'] ? null : v.priors === undefined ? undefined : resolve(io.cwd, v.priors),
    name: v.name ?? basename(out).replace(/\.json$/, ''),
    exclude: v.exclude,
    includeSimulated: v['include-simulated'],
    folds,
    json: v.json,
  };
}

/** What `fit` prints about a model. */
export function modelSummary(model: FittedModel, out: string): Record<string, unknown> {
  const arcs = Object.values(model.arcs).flatMap((m) => Object.values(m));
  const link = model.links['default'];
  return {
    out,
    name: model.name,
    deviceModels: Object.keys(model.arcs).length,
    arcs: arcs.length,
    arcsFitted: arcs.filter((a) => a.n > 0).length,
    arcSamples: arcs.reduce((s, a) => s + a.n, 0),
    blackouts: model.fixed.n,
    linkMedianBytesPerS: link?.medianBytesPerS ?? null,
    fixedMedianMs: model.fixed.medianMs,
    ramCarryMs: model.ram?.carryMs ?? null,
    calibration: model.calibration === undefined ? null : { n: model.calibration.n, method: model.calibration.method ?? null, ...stackGroups(model) },
  };
}

/** The stacks calibrated on their own ({@link CalibrationModel.byStack}) and their scores, when any. */
function stackGroups(model: FittedModel): { byStack?: Record<string, number> } {
  const byStack = model.calibration?.byStack;
  return byStack === undefined ? {} : { byStack: Object.fromEntries(Object.entries(byStack).map(([key, g]) => [key, g.n])) };
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parse(argv, io);
  const { model, fittedOn, described, reader } = await fitModelFile(args);
  const s: Record<string, unknown> = { ...modelSummary(model, args.out), fittedOn, ...(reader === undefined ? {} : { reader }) };
  if (args.json) {
    io.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
  } else {
    const rate = typeof s['linkMedianBytesPerS'] === 'number' ? `${((s['linkMedianBytesPerS'] as number) / 1e6).toFixed(0)} MB/s` : 'none';
    io.stdout.write(
      `wrote ${visible(args.out)}: ${String(s['arcsFitted'])} of ${String(s['arcs'])} arcs fitted from ${String(s['arcSamples'])} samples, ` +
        `${model.fixed.n} blackouts (link ${rate}, fixed ${model.fixed.medianMs.toFixed(1)} ms), ` +
        `calibration ${model.calibration === undefined ? 'none' : `${model.calibration.n} scores (${model.calibration.method ?? '?'})`}\n` +
        `fitted on ${visible(described)}\n`,
    );
    const groups = stackGroups(model).byStack;
    if (groups !== undefined) {
      const list = Object.entries(groups).map(([key, n]) => `${key} ${n}`).join(', ');
      io.stdout.write(`calibration by stack (a query of these stacks uses its own scores when they reach α's conformal rank, others the pooled ones): ${list}\n`);
    }
  }
  return 0;
}

export const fitCommand: Command = {
  name: 'fit',
  summary: 'fit per-arc latencies, blackout link and calibrated bounds from the store',
  help: HELP,
  run,
};
