/**
 * `vfio-sla tune`: which QEMU throttle and switchover knobs make a migration meet its blackout
 * deadline within its time budget (`tuning/tune.ts`), from figures on the command line or from a
 * migration recorded in the store.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { tuneMigration, type TuneDevice, type TuneInput, type TuneMigrationOptions } from '../../app/tune.js';
import type { Recommendation, ThrottleMechanism, TuneResult } from '../../tuning/types.js';
import { dbOption, NOTHING_TO_READ } from '../analysis-options.js';
import { UsageError, parseCommandArgs, type CliIo, type Command } from '../command.js';
import { formatBytes, formatDuration, formatRate, parseDuration, parseRate, parseSize } from '../units.js';

const HELP = `Usage: vfio-sla tune --ram <size> --dirty-rate <rate> [--bandwidth <rate>]
                     --deadline <duration> --budget <duration> [options]
       vfio-sla tune --db <path> --migration <id> --budget <duration> [options]

Recommends the QEMU knobs that make a live migration meet its blackout deadline within its
total time budget, at the least cost to the guest:
  - a throttle: dirty-limit (capability dirty-limit, vcpu-dirty-limit in MiB/s; needs the KVM
    dirty ring) or auto-converge (cpu-throttle-initial / -increment, max-cpu-throttle in %);
  - downtime-limit and avail-switchover-bandwidth, so that QEMU's own rule (pending <=
    bandwidth x downtime-limit) switches over exactly when the fitted blackout bound fits;
with the predicted rounds, pre-copy and total time, blackout median and bound, and the guest
slowdown (share of dirtying throttled; share of vCPU time taken). When no setting meets both
the deadline and the budget it says why and prints the throttle / time / blackout trade-offs.

Sizes: B, KiB, MiB, GiB, TiB, KB, MB, GB, TB. Rates: <size>/s (127MiB/s) or bits (10Gbit/s,
800Mbps). Durations: us, ms, s, min, h. A number without a unit is an error.

Options:
  --ram <size>                guest RAM (e.g. 8GiB)
  --dirty-rate <rate>         whole-VM dirty rate as measured (calc-dirty-rate, dirty-pages-rate)
  --vcpu-dirty-rate <rates>   per-vCPU dirty rates, comma-separated (dirty-ring mode), e.g.
                              100MiB/s,10MiB/s,10MiB/s,7MiB/s; only their shares are used
  --vcpus <n>                 vCPU count when per-vCPU rates are unknown (rate split evenly);
                              without either, dirty-limit is not considered
  --bandwidth <rate>          pre-copy bandwidth, QEMU max-bandwidth (default 128MiB/s)
  --first-pass <size>         what the first pass costs at that bandwidth: RAM less zero pages
                              (default: all of RAM, the slowest case)
  --wws <size>                writable working set (default: all of RAM)
  --device <model>:<size>     a VFIO device and its MIG_DATA_SIZE (repeatable), e.g.
                              mlx5-cx7:300MB; the model must be in --model
  --deadline <duration>       blackout deadline (e.g. 300ms)
  --budget <duration>         total migration time budget (e.g. 120s)
  --alpha <a>                 allowed miss probability of the blackout bound (default 0.05)
  --margin <pct>              plan for a dirty rate this many % above the measured one
                              (default 10)
  --mechanism <m>             consider only these (repeatable): none, auto-converge, dirty-limit
  --link <name>               the migration link as the model names it (e.g. 25G): its fitted
                              blackout rate (default: the recorded migration's, else 'default')
  --multifd-channels <n>      with QEMU's multifd capability: the channel count (the model
                              learns a rate per link and channel count)
  --device-state-multifd      QEMU 10.0+ sends device state over multifd (devices beside RAM)
  --qemu-version <x.y.z>      the source QEMU: its stack's calibration and, before 8.2, the
                              devices' STOP inside the blackout (default: the recorded one)
  --model <file>              fitted model (default: the package's models/priors.json; fit one
                              with vfio-sla fit for numbers that match your hosts)
  --db <path>                 tune from a recorded migration in this database (default
                              data/vfio-sla.db): its RAM progress gives the dirty rate,
                              bandwidth, first pass and working set, its sizes the devices, its
                              outcome the deadline; options given explicitly win
  --migration <id>            the recorded migration (with --db)
  --json                      print the whole answer as JSON (bytes, bytes/s and ms)
  -h, --help                  this help

Exit status: 0 a recommendation; 3 no setting meets both deadline and budget (trade-offs
printed); 1 the model or the store could not be read; 2 usage error (a --db that does not exist included).

Examples:
  vfio-sla tune --ram 8GiB --dirty-rate 127MiB/s --bandwidth 128MiB/s --deadline 300ms --budget 120s
  vfio-sla tune --ram 8GiB --dirty-rate 127MiB/s --first-pass 3.3GB --wws 1.1GB --vcpus 4 \\
                --deadline 300ms --budget 120s --model models/lab.json
  vfio-sla tune --db data/vfio-sla.db --migration Precopy_Nonconvergent_16T/mig-stats-run-1 --budget 120s`;

const MECHANISMS: readonly ThrottleMechanism[] = ['none', 'auto-converge', 'dirty-limit'];

type Values = Record<string, string | boolean | string[] | undefined>;

function str(v: Values, key: string): string | undefined {
  const x = v[key];
  return typeof x === 'string' ? x : undefined;
}

function positive(flag: string, text: string | undefined, parse: (t: string, f: string) => number): number | undefined {
  if (text === undefined) return undefined;
  const x = parse(text, flag);
  if (!(x > 0)) throw new UsageError(`${flag}: must be more than zero, got '${text}'`);
  return x;
}

/** `--device <model>:<size>`. */
function parseDevice(spec: string): TuneDevice {
  const at = spec.lastIndexOf(':');
  if (at <= 0) throw new UsageError(`--device: '${spec}' is not <model>:<size> (e.g. mlx5-cx7:300MB)`);
  return { model: spec.slice(0, at), stopCopyBytes: parseSize(spec.slice(at + 1), '--device') };
}

function parse(argv: readonly string[], io: CliIo): { options: TuneMigrationOptions; json: boolean } {
  const parsed = parseCommandArgs(argv, {
      ram: { type: 'string' },
      'dirty-rate': { type: 'string' },
      'vcpu-dirty-rate': { type: 'string' },
      vcpus: { type: 'string' },
      bandwidth: { type: 'string' },
      'first-pass': { type: 'string' },
      wws: { type: 'string' },
      device: { type: 'string', multiple: true, default: [] },
      deadline: { type: 'string' },
      budget: { type: 'string' },
      alpha: { type: 'string' },
      margin: { type: 'string' },
      mechanism: { type: 'string', multiple: true },
      link: { type: 'string' },
      'multifd-channels': { type: 'string' },
      'device-state-multifd': { type: 'boolean', default: false },
      'qemu-version': { type: 'string' },
      model: { type: 'string' },
      db: { type: 'string' },
      migration: { type: 'string' },
      json: { type: 'boolean', default: false },
    });
  const v = parsed.values as Values;
  const fromDb = str(v, 'migration') !== undefined;
  if (str(v, 'db') !== undefined && !fromDb) throw new UsageError('--db needs --migration <id>');
  const alpha = str(v, 'alpha') === undefined ? 0.05 : Number(str(v, 'alpha'));
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha must be a number in (0, 1), got '${str(v, 'alpha') ?? ''}'`);
  const marginPct = str(v, 'margin') === undefined ? 10 : Number(str(v, 'margin')?.replace(/%$/, ''));
  if (!(marginPct >= 0 && marginPct <= 1000)) throw new UsageError(`--margin must be a percentage in [0, 1000], got '${str(v, 'margin') ?? ''}'`);
  const vcpusText = str(v, 'vcpus');
  const vcpus = vcpusText === undefined ? undefined : Number(vcpusText);
  if (vcpus !== undefined && !(Number.isInteger(vcpus) && vcpus >= 1)) throw new UsageError(`--vcpus must be an integer ≥ 1, got '${vcpusText ?? ''}'`);
  const mechanisms = (v['mechanism'] as string[] | undefined)?.map((m) => {
    if (!(MECHANISMS as readonly string[]).includes(m)) throw new UsageError(`--mechanism: '${m}' is not one of ${MECHANISMS.join(', ')}`);
    return m as ThrottleMechanism;
  });
  const channelsText = str(v, 'multifd-channels');
  const multifdChannels = channelsText === undefined ? undefined : Number(channelsText);
  if (multifdChannels !== undefined && !Number.isInteger(multifdChannels)) throw new UsageError(`--multifd-channels must be an integer, got '${channelsText ?? ''}'`);
  const modelFile = str(v, 'model') === undefined ? undefined : resolve(io.cwd, str(v, 'model') as string);
  if (modelFile !== undefined && !existsSync(modelFile)) throw new UsageError(`--model: no file '${str(v, 'model') ?? ''}'`);

  const ram = positive('--ram', str(v, 'ram'), parseSize);
  let recorded: TuneMigrationOptions['recorded'];
  if (fromDb) {
    const given = str(v, 'db');
    const db = dbOption(given, io.cwd, NOTHING_TO_READ);
    if (!existsSync(db)) throw new UsageError(`--db: no database at '${given ?? db}' (import telemetry first: vfio-sla import)`);
    recorded = { db, dbName: given ?? db, migrationId: str(v, 'migration') as string };
  } else {
    for (const flag of ['ram', 'dirty-rate', 'deadline', 'budget']) if (str(v, flag) === undefined) throw new UsageError(`--${flag} is required (or tune a recorded migration: --db, --migration)`);
  }
  const deadlineMs = positive('--deadline', str(v, 'deadline'), parseDuration);
  const budgetMs = positive('--budget', str(v, 'budget'), parseDuration);
  if (budgetMs === undefined) throw new UsageError('--budget is required');
  const vcpuText = str(v, 'vcpu-dirty-rate');
  const options: TuneMigrationOptions = {
    model: modelFile,
    recorded,
    ramBytes: ram,
    dirtyBytesPerS: positive('--dirty-rate', str(v, 'dirty-rate'), parseRate),
    bandwidthBytesPerS: positive('--bandwidth', str(v, 'bandwidth'), parseRate),
    firstPassBytes: positive('--first-pass', str(v, 'first-pass'), parseSize),
    wwsBytes: positive('--wws', str(v, 'wws'), parseSize),
    vcpuDirtyBytesPerS: vcpuText?.split(',').map((t) => parseRate(t.trim(), '--vcpu-dirty-rate')),
    vcpus,
    mechanisms,
    devices: (v['device'] as string[]).map(parseDevice),
    deadlineMs,
    budgetMs,
    alpha,
    dirtyRateMargin: marginPct / 100,
    link: str(v, 'link'),
    multifdChannels,
    deviceStateMultifd: v['device-state-multifd'] === true ? true : undefined,
    qemuVersion: str(v, 'qemu-version'),
  };
  return { options, json: v['json'] === true };
}

const pct = (x: number): string => `${(x * 100).toFixed(0)} %`;

function settingLine(r: Recommendation): string {
  const caps = r.capabilities.length > 0 ? `migrate-set-capabilities ${r.capabilities.map((c) => `${c}=on`).join(' ')}; ` : '';
  const params = Object.entries(r.parameters).map(([k, x]) => `${k}=${x}`).join(' ');
  return `${caps}migrate-set-parameters ${params}`;
}

function predictionLines(r: Recommendation): string[] {
  const p = r.predicted;
  return [
    `    ${settingLine(r)}`,
    `    predicted: ${p.rounds} passes (dirty-sync-count ${p.dirtySyncCount}), pre-copy ${formatDuration(p.precopyMs)}, total ${formatDuration(p.totalTimeMs)} (bound ${Number.isFinite(p.totalBoundMs) ? formatDuration(p.totalBoundMs) : 'none'})`,
    `               blackout median ${formatDuration(p.blackoutMedianMs)}, bound ${formatDuration(p.blackoutBoundMs)} (alpha ${p.alpha}${p.calibrated ? ', calibrated' : ''})`,
    `               guest: ${pct(p.slowdown)} of dirtying throttled, ${pct(p.vcpuSlowdown)} of vCPU time (dirty rate ${formatRate(p.dirtyBytesPerS)})`,
  ];
}

function textReport(r: TuneResult, input: TuneInput): string {
  const lines = [
    `VM: ${formatBytes(input.ramBytes)} RAM, dirty ${formatRate(input.dirtyBytesPerS)} (planned ${formatRate(r.plannedDirtyBytesPerS)}), ` +
      `pre-copy ${formatRate(input.bandwidthBytesPerS)}: rho = ${r.rho.toFixed(3)}`,
    `SLA: blackout <= ${formatDuration(input.deadlineMs)} at 1 - ${input.alpha}, total <= ${formatDuration(input.budgetMs)}; ` +
      (r.targetRamBytes >= 0 ? `the bound fits up to ${formatBytes(r.targetRamBytes)} of RAM pending` : 'the bound does not fit even with no RAM pending at this dirty rate'),
    '',
  ];
  if (r.recommended !== null) {
    lines.push(`Recommended (${r.reason}): ${r.recommended.mechanism}`, ...predictionLines(r.recommended));
    for (const a of r.alternatives) lines.push(`  Alternative: ${a.mechanism}`, ...predictionLines(a));
  } else {
    lines.push(`No setting meets both the deadline and the budget (${r.reason}).`);
  }
  lines.push('', 'Trade-offs (throttle vs time vs blackout, non-dominated):');
  lines.push(`  ${'mechanism'.padEnd(14)} ${'setting'.padEnd(34)} ${'throttled'.padStart(9)} ${'total'.padStart(10)} ${'blackout p50/bound'.padStart(20)}  when`);
  for (const t of r.tradeOffs) {
    const s = t.setting;
    const setting =
      s.kind === 'auto-converge' ? `initial ${s.initialPct} % +${s.incrementPct} % max ${s.maxPct} %` : s.kind === 'dirty-limit' ? `vcpu-dirty-limit ${t.parameters['vcpu-dirty-limit'] ?? '?'} MiB/s` : '-';
    const blackout = `${formatDuration(t.blackoutMedianMs)} / ${formatDuration(t.blackoutBoundMs)}`;
    lines.push(`  ${t.mechanism.padEnd(14)} ${setting.padEnd(34)} ${pct(t.slowdown).padStart(9)} ${formatDuration(t.totalTimeMs).padStart(10)} ${blackout.padStart(20)}  ${t.when}`);
  }
  if (r.notes.length > 0) lines.push('', 'Notes:', ...r.notes.map((n) => `  - ${n}`));
  return lines.join('\n');
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { options, json } = parse(argv, io);
  const { input, result } = tuneMigration(options);
  if (json) {
    const { model: _model, ...echo } = input;
    io.stdout.write(`${JSON.stringify({ input: echo, ...result }, null, 2)}\n`);
  } else {
    io.stdout.write(`${textReport(result, input)}\n`);
  }
  return result.feasible ? 0 : 3;
}

export const tuneCommand: Command = {
  name: 'tune',
  summary: 'recommend dirty-limit / auto-converge and switchover knobs for a deadline and a budget',
  help: HELP,
  run,
};
