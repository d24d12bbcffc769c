/**
 * `vfio-sla probe`: characterise a device model on a host before admitting it to a fleet — N
 * loopback migration cycles of a real VFIO device through `vfio-helper`, recorded into the store,
 * then per-arc p50/p99 and the fitted lines.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ProbeError, probeDevice, type HelperEndpoint } from '../../app/probe/probe-session.js';
import type { ProbeReport } from '../../app/probe/probe.js';
import { conformanceTable } from '../../app/probe/fsm-conformance.js';
import { MigState, stateName } from '../../fsm/index.js';
import { UsageError, parseCommandArgs, type CliIo, type Command } from '../command.js';
import { dbOption } from '../analysis-options.js';
import { parseDuration } from '../units.js';

/** Exit statuses, as the help text lists them. */
export const PROBE_EXIT = { OK: 0, CYCLES_FAILED: 1, USAGE: 2, UNAVAILABLE: 3, LEFT_STOPPED: 4, FSM_DIFFERS: 5 } as const;

const HELP = `Usage: vfio-sla probe --device <uuid|pci> --destination <uuid|pci> --model <name>
                      [--helper <command> | --helper-socket <path>] [--cycles <n>]
                      [--deadline <duration>] [--db <path>] [--priors <file>] [--prior-from <model>]
                      [--conformance] [--json]

Migrates a VFIO device's state to a second instance of the same device model on this host
(a loopback destination) --cycles times, each switchover decided by the governor, and records
every arc, MIG_DATA_SIZE/PRECOPY_INFO answer, transfer and blackout into the store. Prints
per-arc latency p50/p99 as this process saw it (what the records hold), the ioctl alone as the
helper timed it (CLOCK_MONOTONIC where it runs), and the fitted line (fixed + slope x size); a
device whose migration size never changes gets "no size spread" instead of a slope.

The kernel is reached through vfio-helper (native/vfio-helper.c, built statically with
cc -static -O2 -D__user= against the kernel's uapi headers): run as a child process
(--helper, default 'vfio-helper' on PATH; needs root for /dev/vfio) or over a unix socket
(--helper-socket, e.g. a virtio-serial port of a test guest).

Options:
  --device <id>          mdev UUID or PCI address (0000:3b:00.2) of the device to probe; required
  --destination <id>     a second, idle instance of the same model; required
  --model <name>         device model key for the records and the model (e.g. mtty); required
  --helper <command>     the helper to run (default: vfio-helper)
  --helper-socket <path> talk to an already running helper over this unix socket instead
  --cycles <n>           migration cycles (default 50)
  --deadline <duration>  blackout deadline of each switchover (default 1s)
  --db <path>            database file (default: data/vfio-sla.db under the current directory)
  --priors <file>        prior model (default: the package's models/priors.json)
  --prior-from <model>   prior device model that stands in for an unknown --model (default qat-vf)
  --conformance          afterwards, request every (current, target) state pair once on the
                         device and compare the kernel's answers with vfio-sla's FSM (the device
                         is reset to RUNNING after each pair)
  --json                 print the report as JSON
  -h, --help             this help

Exit status: 0 every cycle migrated and both devices are RUNNING; 1 some cycle was not committed
or failed (both devices were brought back to RUNNING), or the store could not be written;
2 usage error; 3 the device cannot be probed — in use (EBUSY), no migration support, not found,
not RUNNING, or the destination is another model — and nothing was changed; 4 a device is left
outside RUNNING (see the printed state; VFIO_DEVICE_RESET brings it back); 5 with
--conformance, the kernel answered some pair differently from vfio-sla's FSM (marked '!').

Example:
  vfio-sla probe --device 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 \\
    --destination 83b8f4f2-509f-382f-3c1e-e6bfe0fa1002 --model mtty --cycles 50`;

interface ProbeArgs {
  readonly device: string;
  readonly destination: string;
  readonly model: string;
  readonly helper: HelperEndpoint;
  readonly cycles: number;
  readonly deadlineMs: number;
  readonly db: string;
  readonly priors: string | undefined;
  readonly priorFrom: string | undefined;
  readonly conformance: boolean;
  readonly json: boolean;
}

function parse(argv: readonly string[], io: CliIo): ProbeArgs {
  const v = parseCommandArgs(argv, {
    device: { type: 'string' },
    destination: { type: 'string' },
    model: { type: 'string' },
    helper: { type: 'string' },
    'helper-socket': { type: 'string' },
    cycles: { type: 'string' },
    deadline: { type: 'string' },
    db: { type: 'string' },
    priors: { type: 'string' },
    'prior-from': { type: 'string' },
    conformance: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  }).values;
  for (const required of ['device', 'destination', 'model'] as const) {
    if (v[required] === undefined || v[required] === '') throw new UsageError(`--${required} is required`);
  }
  if (v.device === v.destination) throw new UsageError('--device and --destination must be two different instances');
  if (v.helper !== undefined && v['helper-socket'] !== undefined) throw new UsageError('--helper and --helper-socket exclude each other');
  const cycles = v.cycles === undefined ? 50 : Number(v.cycles);
  if (!Number.isInteger(cycles) || cycles < 1) throw new UsageError(`--cycles must be a positive integer, got '${v.cycles ?? ''}'`);
  const deadlineMs = v.deadline === undefined ? 1000 : parseDuration(v.deadline, '--deadline');
  const db = dbOption(v.db, io.cwd, "would lose every cycle's records when probe ends, and its refit runs in a worker that cannot see it");
  if (existsSync(db) && !statSync(db).isFile()) throw new UsageError(`--db: '${db}' exists and is not a regular file`);
  const helper: HelperEndpoint =
    v['helper-socket'] !== undefined ? { socket: resolve(io.cwd, v['helper-socket']) } : { command: v.helper ?? 'vfio-helper' };
  return {
    device: v.device!,
    destination: v.destination!,
    model: v.model!,
    helper,
    cycles,
    deadlineMs,
    db,
    priors: v.priors === undefined ? undefined : resolve(io.cwd, v.priors),
    priorFrom: v['prior-from'],
    conformance: v.conformance,
    json: v.json,
  };
}

function ms(x: number): string {
  return x < 1 ? x.toFixed(3) : x < 10 ? x.toFixed(2) : x.toFixed(1);
}

/** The per-arc table the command prints. */
export function formatProbeReport(r: ProbeReport): string {
  const lines = [
    `${r.deviceModel}: ${r.cycles.length} cycles, ${r.committed} migrated, ${r.failed} failed (migrations ${r.migrationPrefix}-*)`,
    'arc                         n   p50 ms   p99 ms  ioctl p50/p99 ms  fitted line',
  ];
  for (const a of r.arcs) {
    const line =
      a.fit === undefined
        ? 'no model'
        : a.noSizeSpread
          ? `fixed ${ms(a.fit.fixedMs)} ms; no size spread (one size seen): slope not identified`
          : `${ms(a.fit.fixedMs)} ms + ${(a.fit.slopeMsPerByte * 1e6).toFixed(3)} ms/MB x size`;
    const ioctl = a.kernelP50Ms === undefined || a.kernelP99Ms === undefined ? '-' : `${ms(a.kernelP50Ms)}/${ms(a.kernelP99Ms)}`;
    lines.push(`${a.arc.padEnd(26)} ${String(a.n).padStart(3)} ${ms(a.p50Ms).padStart(8)} ${ms(a.p99Ms).padStart(8)}  ${ioctl.padStart(16)}  ${line}`);
  }
  return `${lines.join('\n')}\n`;
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parse(argv, io);
  let report: Awaited<ReturnType<typeof probeDevice>>;
  try {
    report = await probeDevice({
      helper: args.helper,
      device: args.device,
      destination: args.destination,
      deviceModel: args.model,
      cycles: args.cycles,
      deadlineMs: args.deadlineMs,
      dbPath: args.db,
      priors: args.priors,
      ...(args.priorFrom === undefined ? {} : { priorFrom: args.priorFrom }),
      conformance: args.conformance,
    });
  } catch (e) {
    if (e instanceof ProbeError && e.code === 'E_DEVICE_UNAVAILABLE') {
      io.stderr.write(`vfio-sla probe: ${e.message}\n`);
      return PROBE_EXIT.UNAVAILABLE;
    }
    throw e;
  }
  const summary = { deviceModel: report.deviceModel, migrationPrefix: report.migrationPrefix, cycles: report.cycles.length, committed: report.committed, failed: report.failed, arcs: report.arcs, conformance: report.conformance ?? null };
  const table = report.conformance === undefined ? '' : `\nFSM conformance (kernel answer per current state and target; '!' where vfio-sla's FSM differs):\n${conformanceTable(report.conformance)}\n`;
  io.stdout.write(args.json ? `${JSON.stringify(summary, null, 2)}\n` : formatProbeReport(report) + table);
  const last = report.cycles.at(-1);
  if (last !== undefined && (last.sourceState !== MigState.RUNNING || last.destinationState !== MigState.RUNNING)) {
    io.stderr.write(`vfio-sla probe: left ${args.device} in ${stateName(last.sourceState)}, ${args.destination} in ${stateName(last.destinationState)}\n`);
    return PROBE_EXIT.LEFT_STOPPED;
  }
  if (report.committed !== report.cycles.length) return PROBE_EXIT.CYCLES_FAILED;
  return report.conformance?.some((r) => !r.agrees) === true ? PROBE_EXIT.FSM_DIFFERS : PROBE_EXIT.OK;
}

export const probeCommand: Command = {
  name: 'probe',
  summary: 'migrate a real VFIO device to a loopback instance N times; per-arc p50/p99 and fitted lines',
  help: HELP,
  run,
};
