/**
 * `vfio-sla demo`: the main job (`npm start`). A simulated training fleet recorded through the
 * recording pipeline into the store and fitted, then a held-out fleet replayed under the
 * governor, QEMU's rule, KubeVirt's VEP 248 and an oracle; prints the per-policy table.
 */
import { resolve } from 'node:path';
import { runFleetJob, type FleetJobResult } from '../../app/fleet-job.js';
import { formatJobReport } from '../fleet-table.js';
import { UsageError, parseCommandArgs, type CliIo, type Command } from '../command.js';
import { dbOption } from '../analysis-options.js';
import { createProgress } from '../progress.js';

const DEFAULT_MIGRATIONS = 300;
const DEFAULT_SEED = 1;
const DEFAULT_ALPHA = 0.01;
const MAX_MIGRATIONS = 100_000;

const DEFAULT_REPORT = 'out/demo-report.html';
/** The main job's own database: simulated migrations never mix with imported real ones. */
const DEFAULT_DB = 'data/demo.db';

const HELP = `Usage: vfio-sla demo [--migrations <n>] [--training <n>] [--seed <s>] [--db <path>] [--alpha <a>]
                     [--report <file.html> | --no-report] [--json]

Simulates a fleet of VMs with 0-4 VFIO devices (mlx5-cx7, qat-vf, generic-nic profiles), 4-64 GiB
of RAM, idle to non-converging workloads, 10-100 Gb/s links, and compares switchover policies:
  1. a training fleet migrates under QEMU's rule and is recorded (arcs, sizes, RAM progress,
     transfers, outcomes) through the recording pipeline into the SQLite store;
  2. a model is fitted from the store (per-arc latencies, blackout link, fixed cost,
     conformal calibration);
  3. a held-out fleet - the same VMs, seeds and noise for every policy - is migrated under
       governor  this library: decide() at every 100 ms poll, DeadlineSetState at the commit
       qemu      QEMU's rule: pending bytes <= bandwidth x downtime-limit (RAM-only estimate)
       kubevirt  KubeVirt VEP 248 stall detection and implied-downtime budget over QEMU's rule
       oracle    knows the true blackout at every poll; switches at the earliest that fits
       oracle-throttle  the same, and caps the guest's dirty rate at every poll that does not fit
and prints, per policy: useful share (completed within the deadline / attempted),
miss rate (missed deadlines / migrations attempted), blackout p50/p99 and mean total migration
time over completed migrations, the aborted and throttled shares. The governor decides each migration at an
adaptive alpha learnt from the misses of those before it (misses <= alpha x attempts + 3).
The held-out runs are recorded too (demo/s<seed>/heldout/<policy>/vm-NNNN), each with how it
ended; then the HTML report of the store is written (vfio-sla report), its attempts table
showing the aborted share and the total time beside the miss rate.

Options:
  --migrations <n>   held-out migrations, each run under every policy (default ${DEFAULT_MIGRATIONS})
  --training <n>     training migrations (default: as many as --migrations); the governor needs
                     about 100 completed ones for a calibrated bound at alpha = 0.01
  --seed <s>         fleet seed, an integer (default ${DEFAULT_SEED}); same seed, same numbers
  --db <path>        database file (default: ${DEFAULT_DB} under the current directory, apart from
                     the real telemetry in data/vfio-sla.db); training migrations are stored as
                     demo/s<seed>/train/vm-NNNN, and a re-run with the same seed replaces them.
                     Records are dated at the run's wall time. 'vfio-sla fit' leaves demo/
                     migrations out unless --include-simulated
  --alpha <a>        the governor's allowed miss rate per attempted migration, in (0, 1)
                     (default ${DEFAULT_ALPHA})
  --report <file>    where to write the HTML report (default: ${DEFAULT_REPORT} under the current
                     directory); it covers the whole store, earlier runs included
  --no-report        do not write the report
  --json             print the result as JSON on stdout instead of the table
  -h, --help         this help

A progress bar is drawn on stderr when it is a terminal (not when CI=true).

Exit status: 0 done; 1 the store or the report failed, or the store rejected a simulated
record (a bug); 2 usage error.

Example:
  vfio-sla demo
  vfio-sla demo --migrations 100 --seed 7 --db /tmp/demo.db --no-report --json`;

interface DemoArgs {
  readonly migrations: number;
  readonly training: number;
  readonly seed: number;
  readonly db: string;
  readonly alpha: number;
  readonly report: string | undefined;
  readonly json: boolean;
}

function integerOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got '${raw}'`);
  }
  return n;
}

function parse(argv: readonly string[], io: CliIo): DemoArgs {
  const parsed = parseCommandArgs(argv, {
      migrations: { type: 'string' },
      training: { type: 'string' },
      seed: { type: 'string' },
      db: { type: 'string' },
      alpha: { type: 'string' },
      report: { type: 'string' },
      'no-report': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    });
  const v = parsed.values;
  if (v.report !== undefined && v['no-report']) throw new UsageError('--report and --no-report exclude each other');
  const migrations = integerOption('migrations', v.migrations, DEFAULT_MIGRATIONS, 1, MAX_MIGRATIONS);
  const alpha = v.alpha === undefined ? DEFAULT_ALPHA : Number(v.alpha);
  if (!(alpha > 0 && alpha < 1) || v.alpha?.trim() === '') throw new UsageError(`--alpha must be a number in (0, 1), got '${v.alpha ?? ''}'`);
  return {
    migrations,
    training: integerOption('training', v.training, migrations, 1, MAX_MIGRATIONS),
    seed: integerOption('seed', v.seed, DEFAULT_SEED, -(2 ** 31), 2 ** 31 - 1),
    db: dbOption(v.db ?? DEFAULT_DB, io.cwd, 'would be gone when the demo ends, and its fit runs in a worker that cannot see it'),
    alpha,
    report: v['no-report'] ? undefined : resolve(io.cwd, v.report ?? DEFAULT_REPORT),
    json: v.json,
  };
}

/** The JSON form: everything but the per-migration results and the model's arc tables. */
export function demoJson(r: FleetJobResult): unknown {
  const { results: _results, model, ...rest } = r;
  return {
    ...rest,
    model: {
      name: model.name,
      links: model.links,
      fixed: model.fixed,
      ram: model.ram,
      calibration: model.calibration === undefined ? null : { n: model.calibration.n, method: model.calibration.method },
    },
  };
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parse(argv, io);
  const total = args.training + args.migrations;
  const progress = createProgress(io.stderr, io.env, { label: 'demo', total });
  let result: FleetJobResult;
  try {
    result = await runFleetJob({
      migrations: args.migrations,
      trainingMigrations: args.training,
      seed: args.seed,
      dbPath: args.db,
      alpha: args.alpha,
      fittedAt: new Date().toISOString(),
      ...(args.report === undefined ? {} : { reportPath: args.report }),
      onProgress: (phase, done) => progress.update(phase === 'train' ? done : args.training + done, total),
    });
  } finally {
    progress.finish();
  }
  io.stdout.write(args.json ? `${JSON.stringify(demoJson(result), null, 2)}\n` : `${formatJobReport(result)}\n`);
  if (result.recordsRejected > 0) {
    io.stderr.write(`vfio-sla demo: the store rejected ${result.recordsRejected} simulated records: ${result.firstRejection ?? ''}\n`);
    return 1;
  }
  return 0;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'simulate a fleet, fit, and compare the governor with QEMU, KubeVirt and an oracle',
  help: HELP,
  run,
};
