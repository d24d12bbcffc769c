/**
 * `vfio-sla watch --qmp <socket>`: follow (and with `--drive`, steer) a live QEMU migration that
 * someone else starts, record it, print the governor's decision as it goes. The work is
 * `app/watch/watch.ts`; this file parses flags, picks the model, wires the store, prints, and maps
 * the end to an exit status.
 */
import { resolve } from 'node:path';
import type { QmpEndpoint } from '../../qemu/qmp-options.js';
import { DEFAULT_WATCH_DEADLINE_MS, watchQemuMigration } from '../../app/watch/watch-qemu.js';
import type { VfioTraceOptions } from '../../app/watch/watch-vfio.js';
import { WatchTextFormat } from '../watch-format.js';
import type { WatchEnd, WatchEntry } from '../../app/watch/watch-types.js';
import { dbOption } from '../analysis-options.js';
import { UsageError, parseCommandArgs, type CliIo, type Command } from '../command.js';
import { parseDuration } from '../units.js';

const HELP = `Usage: vfio-sla watch --qmp <socket> [--deadline 300ms] [--alpha 0.01] [--budget <duration>] [--guest-timeout <duration>]
                     [--drive [--on-abort cancel|release] [--abort-without-model]]
                     [--db <path>] [--model <file>]
                     [--priors <file>] [--id <migration-id>] [--qmp-log <file>] [--json]
                     [--dest-qmp <socket>] [--vfio-trace <file>[=<read-path>]]
                     [--dest-vfio-trace <file>[=<read-path>]]

Follows a live migration that someone else starts (libvirt, a script): polls query-migrate every
100 ms, listens to MIGRATION, MIGRATION_PASS, VFIO_MIGRATION and STOP (turning on the 'events'
capability when no migration runs yet), records everything into the store as 'vfio-sla import'
would record the QMP log of it (each QEMU's query-version as a stack record at attach; ram
records as they come; the transfer pair, the outcome and the attempt at the end), and prints the governor's
decision at every poll. It attaches before or during a
migration and ends with it. QEMU serves one client per QMP socket: give watch its own
(-qmp unix:/run/vm1-watch.sock,server=on,wait=off next to libvirt's monitor).

Decisions start once QEMU has measured the guest's dirty rate (its first bitmap sync after 1 s;
until then its 0 B/s means "unknown"). Figures map as in the importer's ram records: RAM
remaining, dirty-pages-rate x page-size, mbps. Each decision also gets QEMU's passes (remaining
at the first poll of each dirty-sync-count): once they stop shrinking above the size at which
the switchover fits, the line says "passes level off at <size>: not converging on its own"
and the decision is NOT_CONVERGING (throttle) even with rho < 1.

VFIO devices (QEMU 9.1+ with -device vfio-pci,...,migration-events=on): watch lists them at attach
(query-pci, qom-get) and maps their PCI ids to the model's device models (a model it does not
know is predicted with a prior that covers its arcs, and watch says so); their VFIO_MIGRATION
events give their state to every decision and become arc records (the previous state inferred;
an arc is timed when its start is known: QEMU's trace, or the second arc of a stop/start step).
QMP has no VFIO sizes: --vfio-trace switches QEMU's own VFIO trace events on for the migration
(trace-event-set-state, the file set with HMP 'logfile'; QEMU's "log" trace backend, as in
Debian) and off at the end, and reads the stop-copy and pre-copy sizes per device and iteration
from it (size records; the decisions count them). Without it a device's data counts as 0 bytes.
It also switches on QEMU's downtime checkpoints (8.2+), which time the blackout's transfer apart
from the rest of the downtime: fits then learn the blackout's terms, a miss probability per VM.
--dest-qmp also follows the destination QEMU's VFIO devices, so their arcs are recorded too.

With --drive, and a model whose bound is calibrated for this VM (fitted from enough of your own
migrations: at --alpha 0.01 at least 99), watch steers:
  - the switchover: QEMU's downtime-limit is held at 1 ms (8.2+: also avail-switchover-
    bandwidth at 1000 B/s) until the governor commits, then raised so that QEMU's own rule
    (pending < bandwidth x downtime-limit) fires at its next check. On QEMU < 8.2 the hold lets
    a guest through that dirties less than 1 ms of QEMU's bandwidth between two syncs; watch
    then says so and records QEMU's outcome instead of the governor's;
  - throttle decisions: set-vcpu-dirty-limit (KVM with dirty-ring-size), one quota per vCPU
    water-filled over the vCPUs' rates with QEMU's 25 MiB/s dead band, as vfio-sla tune
    computes it; else auto-converge, which watch turns on at attach when no migration runs yet
    (trigger 100 %: QEMU throttles by itself only while the guest dirties faster than it sends)
    and aims by lowering the trigger and setting cpu-throttle-initial/-increment to the
    absolute share that compounds on QEMU's current throttle; else the advice is only printed;
  - abort decisions that persist for 1 s: migrate_cancel (--on-abort cancel, the default: the
    guest keeps running on the source; QEMU's incoming side then exits), or hand the
    switchover back to QEMU's own rule (--on-abort release).
Without such a model (the priors, a small fit) --drive only observes, says so in its first
lines, and QEMU keeps its own switchover rule: nothing is cancelled on an uncalibrated bound.
--abort-without-model steers anyway, and then an abort may cancel the migration.
When it ends, watch puts back the downtime-limit and throttle settings it changed (the
auto-converge capability only once no migration runs).

Options:
  --qmp <socket>        QMP socket: a unix socket path, unix:<path> or tcp:<host>:<port> (required)
  --deadline <time>     blackout deadline, e.g. 300ms, 1.5s (default 300ms, QEMU's
                        default downtime-limit)
  --alpha <a>           allowed miss probability of the bound, in (0, 1) (default 0.01)
  --budget <time>       total migration time after which the governor aborts (default: none)
  --guest-timeout <time>  a pause the guest tolerates (watchdog, storage or network timeout);
                        the bound must fit it as well as --deadline, and each decision says
                        which of the two binds (default: none)
  --drive               steer the switchover and throttle (otherwise decisions are advice)
  --on-abort <what>     with --drive: cancel (default) or release
  --abort-without-model with --drive: steer (and cancel on abort) even when the model's bound is
                        not calibrated for this VM
  --db <path>           database (default: data/vfio-sla.db under the current directory)
  --model <file>        model to decide with; default: a fit of --db when it holds telemetry,
                        else the priors (the first lines say which)
  --priors <file>       priors for that fit and for an empty database (default: models/priors.json)
  --id <migration-id>   id of the recorded migration (default: from --qmp-log, as 'vfio-sla import'
                        names it, else watch/<socket name>-<UTC time>)
  --qmp-log <file>      also write the QMP wire log of the migration (a regular file, overwritten;
                        anything else there is refused, exit 2); importing it
                        adds nothing new: the records are the same
  --dest-qmp <socket>   the destination QEMU's QMP socket: its VFIO devices' arcs are recorded too
  --vfio-trace <file>[=<read-path>]
                        switch QEMU's VFIO trace on into <file> (a path on QEMU's host) for the
                        migration, read from <read-path> (default <file>)
  --dest-vfio-trace <file>[=<read-path>]  the same for the destination QEMU (needs --dest-qmp)
  --json                print JSON lines (type: attach, note, event, poll, decision, limit,
                        throttle, cancel, end) instead of text
  -h, --help            this help

Exit status: 0 completed; 1 QEMU's QMP socket closed or a command failed (QEMU exited, was
killed, dropped the connection) or no final statistics, or records were rejected; 2 usage error; 3 the migration failed;
4 it was cancelled (by --drive or anyone else); 130 stopped by SIGINT/SIGTERM. Whatever the
end, what was recorded stays in the store.

Example:
  vfio-sla watch --qmp /run/vm1-watch.sock --deadline 500ms --drive --qmp-log vm1-mig.qmp`;

interface WatchArgs {
  readonly endpoint: QmpEndpoint;
  readonly deadlineMs: number;
  readonly alpha: number;
  readonly budgetMs: number;
  readonly guestTimeoutMs: number | undefined;
  readonly drive: boolean;
  readonly onAbort: 'cancel' | 'release';
  readonly abortWithoutModel: boolean;
  readonly db: string;
  readonly model: string | undefined;
  readonly priors: string | undefined;
  readonly id: string | undefined;
  readonly qmpLog: string | undefined;
  readonly json: boolean;
  readonly destEndpoint: QmpEndpoint | undefined;
  readonly vfioTrace: VfioTraceOptions | undefined;
  readonly destVfioTrace: VfioTraceOptions | undefined;
}

/** `<file>[=<read-path>]`, read path resolved here (QEMU's path is QEMU's, taken as given). */
function traceOption(text: string | undefined, cwd: string): VfioTraceOptions | undefined {
  if (text === undefined) return undefined;
  const eq = text.indexOf('=');
  const qemuPath = eq < 0 ? resolve(cwd, text) : text.slice(0, eq);
  if (qemuPath.length === 0) throw new UsageError('--vfio-trace needs a file');
  return eq < 0 ? { qemuPath } : { qemuPath, readPath: resolve(cwd, text.slice(eq + 1)) };
}

/** Exit status per end (see the help). */
export const WATCH_EXIT_CODES: Readonly<Record<WatchEnd, number>> = {
  completed: 0,
  'no-statistics': 1,
  'qmp-closed': 1,
  'qmp-error': 1,
  error: 1,
  failed: 3,
  cancelled: 4,
  interrupted: 130,
};

function endpointOf(text: string, cwd: string): QmpEndpoint {
  const tcp = /^tcp:(.+):(\d+)$/.exec(text);
  if (tcp !== null) return { host: tcp[1] ?? '', port: Number(tcp[2]) };
  return { path: resolve(cwd, text.startsWith('unix:') ? text.slice(5) : text) };
}

function parse(argv: readonly string[], io: CliIo): WatchArgs {
  const parsed = parseCommandArgs(argv, {
    qmp: { type: 'string' },
    deadline: { type: 'string' },
    alpha: { type: 'string' },
    budget: { type: 'string' },
    'guest-timeout': { type: 'string' },
    drive: { type: 'boolean', default: false },
    'on-abort': { type: 'string' },
    'abort-without-model': { type: 'boolean', default: false },
    db: { type: 'string' },
    model: { type: 'string' },
    priors: { type: 'string' },
    id: { type: 'string' },
    'qmp-log': { type: 'string' },
    json: { type: 'boolean', default: false },
    'dest-qmp': { type: 'string' },
    'vfio-trace': { type: 'string' },
    'dest-vfio-trace': { type: 'string' },
  });
  const v = parsed.values;
  if (v.qmp === undefined) throw new UsageError('--qmp <socket> is required');
  const deadlineMs = v.deadline === undefined ? DEFAULT_WATCH_DEADLINE_MS : parseDuration(v.deadline, '--deadline');
  if (!(deadlineMs > 0)) throw new UsageError(`--deadline must be > 0, got '${v.deadline ?? ''}'`);
  const alpha = v.alpha === undefined ? 0.01 : Number(v.alpha);
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha must be a number in (0, 1), got '${v.alpha ?? ''}'`);
  const budgetMs = v.budget === undefined ? Infinity : parseDuration(v.budget, '--budget');
  const guestTimeoutMs = v['guest-timeout'] === undefined ? undefined : parseDuration(v['guest-timeout'], '--guest-timeout');
  if (guestTimeoutMs !== undefined && !(guestTimeoutMs > 0)) throw new UsageError(`--guest-timeout must be > 0, got '${v['guest-timeout'] ?? ''}'`);
  const onAbort = v['on-abort'] ?? 'cancel';
  if (onAbort !== 'cancel' && onAbort !== 'release') throw new UsageError(`--on-abort must be cancel or release, got '${onAbort}'`);
  if (v['on-abort'] !== undefined && !v.drive) throw new UsageError('--on-abort needs --drive');
  if (v['abort-without-model'] && !v.drive) throw new UsageError('--abort-without-model needs --drive');
  const endpoint = endpointOf(v.qmp, io.cwd);
  if (v['dest-vfio-trace'] !== undefined && v['dest-qmp'] === undefined) throw new UsageError('--dest-vfio-trace needs --dest-qmp');
  const qmpLog = v['qmp-log'] === undefined ? undefined : resolve(io.cwd, v['qmp-log']);
  return {
    endpoint,
    deadlineMs,
    alpha,
    budgetMs,
    guestTimeoutMs,
    drive: v.drive,
    onAbort,
    abortWithoutModel: v['abort-without-model'],
    db: dbOption(v.db, io.cwd, "would lose the migration's records when watch ends"),
    model: v.model === undefined ? undefined : resolve(io.cwd, v.model),
    priors: v.priors === undefined ? undefined : resolve(io.cwd, v.priors),
    id: v.id,
    qmpLog,
    json: v.json,
    destEndpoint: v['dest-qmp'] === undefined ? undefined : endpointOf(v['dest-qmp'], io.cwd),
    vfioTrace: traceOption(v['vfio-trace'], io.cwd),
    destVfioTrace: traceOption(v['dest-vfio-trace'], io.cwd),
  };
}

/** Writes the timeline to stdout as text lines or JSON lines. */
function printer(io: CliIo, json: boolean): { head(obj: Record<string, unknown>, text: string[]): void; entry(e: WatchEntry): void } {
  const text = new WatchTextFormat();
  const write = (line: string): void => {
    io.stdout.write(`${line}\n`);
  };
  return {
    head: (obj, lines) => (json ? write(JSON.stringify(obj)) : lines.forEach(write)),
    entry: (e) => (json ? write(JSON.stringify(e)) : text.format(e).forEach(write)),
  };
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parse(argv, io);
  const print = printer(io, args.json);
  const say = (line: string): void => void io.stderr.write(`vfio-sla watch: ${line}\n`);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let result: Awaited<ReturnType<typeof watchQemuMigration>>;
  try {
    result = await watchQemuMigration({
      ...args,
      signal: stop.signal,
      onStart: (model) => {
        const from = model.source === 'file' ? `file ${model.path ?? ''}` : model.source === 'fit' ? `fitted from ${args.db}` : `priors ${model.path ?? ''} (no telemetry in ${args.db} to fit)`;
        const slo = `blackout ≤ ${args.deadlineMs} ms with probability ≥ ${+((1 - args.alpha) * 100).toFixed(3)} %` +
          (args.guestTimeoutMs === undefined ? '' : ` and ≤ guest timeout ${args.guestTimeoutMs} ms`) +
          (args.budgetMs === Infinity ? '' : `, migration budget ${args.budgetMs} ms`);
        print.head({ type: 'model', source: model.source, name: model.fitted.name, path: model.path, deadlineMs: args.deadlineMs, alpha: args.alpha,
          budgetMs: args.budgetMs === Infinity ? null : args.budgetMs, guestTimeoutMs: args.guestTimeoutMs ?? null, db: args.db }, [`model: '${model.fitted.name}', ${from}`, `slo: ${slo}; records into ${args.db}`]);
      },
      onEntry: (entry) => print.entry(entry),
      onWarning: say,
    });
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  let code = result.failure === undefined ? WATCH_EXIT_CODES[result.end] : 1;
  if (result.failure === undefined && code !== 0) say(result.message);
  if (result.closeError !== undefined) {
    say(result.closeError.message);
    code = 1;
  }
  // "Sent" is not "stored": say what the store refused, as import does (exit 1).
  if (result.rejected > 0) {
    say(`${result.rejected} of ${result.accepted + result.rejected} records were rejected, not stored (vfio-sla stats lists the rejects table's reasons)`);
    if (code === 0) code = 1;
  }
  if (result.failure !== undefined) throw result.failure.error;
  return code;
}

export const watchCommand: Command = {
  name: 'watch',
  summary: 'follow (--drive: steer) a live QEMU migration over QMP, record it, print decisions',
  help: HELP,
  run,
};
