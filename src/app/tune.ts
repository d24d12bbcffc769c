/**
 * The `tune` use case: dirty-limit / auto-converge and switchover knobs for a deadline and a
 * budget (`tuning/tune.ts`), for a workload given as numbers or read from a recorded migration.
 */
import { compileModel } from '../estimators/predict.js';
import type { BlackoutDevice, FittedModel } from '../estimators/types.js';
import { parseQemuRelease } from '../estimators/stack.js';
import { QEMU_MAX_BANDWIDTH_DEFAULT_BYTES_PER_S, QEMU_MAX_MULTIFD_CHANNELS } from '../facts/qemu.js';
import { linkOptionProblem } from '../telemetry/validate.js';
import { DEFAULT_PRIORS_FILE, loadModel } from '../files/model-file.js';
import { MigFlags, MigState } from '../fsm/index.js';
import { iterateArcs, listMigrations, openStore, outcomes, ramProgress, sizes, transfers } from '../store/index.js';
import { fitWorkload } from '../tuning/fit-workload.js';
import { tune } from '../tuning/tune.js';
import type { PrecopyWorkload, ThrottleMechanism, TuneResult } from '../tuning/types.js';
import { AppInputError } from './errors.js';

/** A device as given: its model's name and its STOP_COPY size. */
export interface TuneDevice {
  readonly model: string;
  readonly stopCopyBytes: number;
}

/** Options of {@link tuneMigration}: explicit values win over what a recorded migration says. */
export interface TuneMigrationOptions {
  /** The model file (default: the package's priors). */
  readonly model?: string | undefined;
  /** A recorded migration to take the workload, devices and deadline from. */
  readonly recorded?: { readonly db: string; readonly migrationId: string; /** How the user named `db` (messages). */ readonly dbName?: string } | undefined;
  readonly ramBytes?: number | undefined;
  readonly dirtyBytesPerS?: number | undefined;
  /** Default: the recorded bandwidth, else QEMU's `max-bandwidth` default. */
  readonly bandwidthBytesPerS?: number | undefined;
  readonly firstPassBytes?: number | undefined;
  readonly wwsBytes?: number | undefined;
  readonly vcpuDirtyBytesPerS?: readonly number[] | undefined;
  readonly vcpus?: number | undefined;
  readonly mechanisms?: readonly ThrottleMechanism[] | undefined;
  /** Devices besides the recorded migration's. */
  readonly devices: readonly TuneDevice[];
  /** Default: the recorded migration's outcome's deadline. */
  readonly deadlineMs?: number | undefined;
  readonly budgetMs: number;
  readonly alpha: number;
  /** Margin on the dirty rate, a fraction. */
  readonly dirtyRateMargin: number;
  /** The migration link (default: the recorded migration's, else `default`). */
  readonly link?: string | undefined;
  /** `multifd-channels`, with the `multifd` capability. */
  readonly multifdChannels?: number | undefined;
  /** Device state over multifd (QEMU 10.0+). */
  readonly deviceStateMultifd?: boolean | undefined;
  /** The source QEMU's version (default: the recorded migration's). */
  readonly qemuVersion?: string | undefined;
}

/** The input `tune()` got. */
export type TuneInput = Parameters<typeof tune>[0];

/** What {@link tuneMigration} answered, with the input it built. */
export interface TuneMigrationResult {
  readonly input: TuneInput;
  readonly result: TuneResult;
}

/** A device of model `name` as the blackout predictor takes it: flags and state from the arcs the model knows for it. */
function deviceOf(d: TuneDevice, i: number, model: FittedModel, option: string): BlackoutDevice {
  const arcs = model.arcs[d.model];
  if (arcs === undefined) throw new AppInputError(option, `${option}: device model '${d.model}' is not in the model (it knows: ${Object.keys(model.arcs).join(', ') || 'none'})`);
  const has = (key: string): boolean => arcs[key] !== undefined;
  const precopy = has('PRE_COPY_P2P>STOP_COPY') || has('PRE_COPY>STOP_COPY');
  const p2p = has('PRE_COPY_P2P>STOP_COPY') || has('RUNNING_P2P>STOP');
  const flags = (MigFlags.STOP_COPY | (p2p ? MigFlags.P2P : 0) | (precopy ? MigFlags.PRE_COPY : 0)) as MigFlags;
  return { id: `dev${i}`, model: d.model, state: precopy ? MigState.PRE_COPY : MigState.RUNNING, flags, stopCopyBytes: d.stopCopyBytes };
}

interface Recorded {
  readonly workload: PrecopyWorkload;
  readonly devices: readonly TuneDevice[];
  readonly deadlineMs: number | undefined;
  readonly link: string | undefined;
  readonly qemuVersion: string | undefined;
}

/** What a recorded migration says: its RAM workload, its devices' last sizes, its deadline, its link and its source QEMU. */
function fromStore(dbPath: string, dbName: string, migrationId: string, ramBytes: number | undefined): Recorded {
  const store = openStore(dbPath, { readonly: true });
  try {
    const migration = listMigrations(store).find((m) => m.migrationId === migrationId);
    if (migration === undefined) {
      throw new AppInputError('--migration', `--migration: no migration '${migrationId}' in '${dbName}' (see: vfio-sla stats)`);
    }
    const workload = fitWorkload([ramProgress(store, migrationId)], ramBytes === undefined ? {} : { ramBytes });
    const models = new Map<string, string>();
    for (const a of iterateArcs(store, { migrationId })) models.set(a.deviceId, a.deviceModel);
    const last = new Map<string, number>();
    for (const s of sizes(store, migrationId)) last.set(s.deviceId, s.stopCopyBytes);
    const devices = [...last].map(([id, stopCopyBytes]) => ({ model: models.get(id) ?? id, stopCopyBytes }));
    // The link its blackout transfer was tagged with (`import --link`, or the VMM's records).
    const link = transfers(store, { migrationId, phase: 'stopcopy' }).find((t) => t.link !== undefined)?.link;
    return { workload, devices, deadlineMs: outcomes(store, { migrationId })[0]?.deadlineMs, link, qemuVersion: migration.qemuVersion };
  } finally {
    store.close();
  }
}

/** The link, channel count and QEMU version given, as `tune` takes them, or an error naming the option. */
function checkSwitchoverOptions(o: TuneMigrationOptions): void {
  const linkProblem = linkOptionProblem(o.link);
  if (linkProblem !== undefined) throw new AppInputError('--link', linkProblem);
  const n = o.multifdChannels;
  if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= QEMU_MAX_MULTIFD_CHANNELS)) {
    throw new AppInputError('--multifd-channels', `--multifd-channels must be an integer in [1, ${QEMU_MAX_MULTIFD_CHANNELS}], got '${n}'`);
  }
  if (o.qemuVersion !== undefined && parseQemuRelease(o.qemuVersion) === undefined) {
    throw new AppInputError('--qemu-version', `--qemu-version must be major.minor.micro (e.g. 9.2.0), got '${o.qemuVersion}'`);
  }
}

/** Builds the tuning input (model, recorded workload, devices) and tunes. */
export function tuneMigration(o: TuneMigrationOptions): TuneMigrationResult {
  checkSwitchoverOptions(o);
  const model = loadModel(o.model ?? DEFAULT_PRIORS_FILE);
  const recorded = o.recorded === undefined ? undefined : fromStore(o.recorded.db, o.recorded.dbName ?? o.recorded.db, o.recorded.migrationId, o.ramBytes);
  const deadlineMs = o.deadlineMs ?? recorded?.deadlineMs;
  if (deadlineMs === undefined) throw new AppInputError('--deadline', '--deadline is required: the recorded migration has no outcome to take it from');
  const rec = recorded?.workload;
  const devices = [
    ...(recorded?.devices ?? []).map((d, i) => deviceOf(d, i, model, '--migration')),
    ...o.devices.map((d, i) => deviceOf(d, i + (recorded?.devices.length ?? 0), model, '--device')),
  ];
  const optional = <K extends string, T>(key: K, x: T | undefined): Partial<Record<K, T>> => (x === undefined ? {} : ({ [key]: x } as Record<K, T>));
  const input: TuneInput = {
    ramBytes: o.ramBytes ?? rec?.ramBytes ?? 0,
    dirtyBytesPerS: o.dirtyBytesPerS ?? rec?.dirtyBytesPerS ?? 0,
    bandwidthBytesPerS: o.bandwidthBytesPerS ?? rec?.bandwidthBytesPerS ?? QEMU_MAX_BANDWIDTH_DEFAULT_BYTES_PER_S,
    ...optional('firstPassBytes', o.firstPassBytes ?? rec?.firstPassBytes),
    ...optional('wwsBytes', o.wwsBytes ?? rec?.wwsBytes),
    ...optional('vcpuDirtyBytesPerS', o.vcpuDirtyBytesPerS),
    ...optional('vcpus', o.vcpus),
    ...optional('mechanisms', o.mechanisms),
    devices,
    model: compileModel(model),
    deadlineMs,
    budgetMs: o.budgetMs,
    alpha: o.alpha,
    dirtyRateMargin: o.dirtyRateMargin,
    ...optional('link', o.link ?? recorded?.link),
    ...optional('multifdChannels', o.multifdChannels),
    ...optional('deviceStateMultifd', o.deviceStateMultifd),
    ...optional('qemuVersion', o.qemuVersion ?? recorded?.qemuVersion),
    // QEMU's own switchover, which the knobs steer, stops and restarts the devices one after another.
    serial: true,
  };
  return { input, result: tune(input) };
}
