/**
 * One migration of a real VFIO device's state to a second instance of the same device model on
 * the same host (a loopback destination), as a VMM would run it — every state change through
 * `DeadlineSetState`, so each arc and size lands in the sink:
 *
 * - source `RUNNING → PRE_COPY`; read the pre-copy data while `PRECOPY_INFO` reports initial
 *   bytes (QEMU's `vfio_save_iterate()` in `hw/vfio/migration.c` does the same);
 * - destination `RUNNING → RESUMING`, the pre-copy bytes written as they arrive;
 * - switchover: source `setState(STOP_COPY)` — `decide()` commits or not; the stream is read to
 *   EOF (on the data fd the kernel returned, or the PRE_COPY one when it returned none) and
 *   written to the destination;
 * - destination `RESUMING → RUNNING` (the kernel loads the state on `RESUMING → STOP`), source
 *   `STOP_COPY → STOP`, then back to `RUNNING` so the next cycle can start.
 *
 * A cycle that is not committed, or that fails after the commit, is unwound: no device is left
 * stopped. A destination in RESUMING is reset (`VFIO_DEVICE_RESET`): "To abort a RESUMING session
 * the device must be reset" (`include/uapi/linux/vfio.h`, `enum vfio_device_mig_state`).
 */
import type { MigrationDevice } from '../../device/index.js';
import { MigState, stateName } from '../../fsm/index.js';
import { DeadlineSetState } from '../../governor/deadline-set-state.js';
import type { NowSource } from '../../governor/clock.js';
import type { SetStateResult } from '../../governor/set-state-types.js';
import type { CompiledModel } from '../../estimators/compile.js';
import type { FittedModel } from '../../estimators/types.js';
import type { RecordSink } from '../../records/records.js';
import { hasStringCode } from '../../json/guards.js';

/** A device whose migration data fd can be read and written (`VfioDevice`). */
export interface StreamDevice extends MigrationDevice {
  readData(maxBytes?: number): Promise<Buffer>;
  readToEnd(): Promise<Buffer>;
  writeData(data: Buffer): Promise<number>;
  reset(): Promise<MigState>;
  refreshState(): Promise<MigState>;
}

export interface LoopbackOptions {
  readonly model: CompiledModel | FittedModel;
  readonly sink: RecordSink;
  readonly clock: NowSource;
  readonly migrationId: string;
  /** Blackout deadline, ms. */
  readonly deadlineMs: number;
  readonly alpha?: number;
  /** Time the non-switchover steps may take, ms (10 000). */
  readonly stepDeadlineMs?: number;
  /** Pre-copy reads before giving up on draining the initial bytes (1000). */
  readonly maxPrecopyReads?: number;
  /** Link name of the stop-copy transfer record (`loopback`). */
  readonly link?: string;
  /**
   * Changes the stream on its way to the destination (fault injection): called with each chunk
   * and the stream offset it starts at.
   */
  readonly tamper?: (chunk: Buffer, offsetBytes: number) => Buffer;
  /** Called at the commit, before the first stopping arc (a VMM pauses vCPUs here). */
  readonly onCommit?: () => void | Promise<void>;
}

/** Where a cycle went wrong. */
export interface CycleFailure {
  readonly phase: 'precopy' | 'resuming' | 'switchover' | 'stream' | 'restore' | 'source-stop';
  readonly code: string;
  readonly message: string;
}

export interface CycleResult {
  readonly migrationId: string;
  readonly committed: boolean;
  /** The switchover request's result (absent when the cycle failed before it). */
  readonly switchover?: SetStateResult;
  /** Pre-copy bytes read and written. */
  readonly precopyBytes: number;
  /** Stop-copy bytes read after the commit. */
  readonly stopCopyBytes: number;
  /** Commit → destination RUNNING, ms (when the destination got there). */
  readonly blackoutMs?: number;
  readonly failure?: CycleFailure;
  /** States the kernel reports at the end. */
  readonly sourceState: MigState;
  readonly destinationState: MigState;
}

class CycleError extends Error {
  constructor(
    readonly phase: CycleFailure['phase'],
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function failureOf(phase: CycleFailure['phase'], e: unknown): CycleError {
  if (e instanceof CycleError) return e;
  const code = hasStringCode(e) ? e.code : 'EUNKNOWN';
  return new CycleError(phase, code, e instanceof Error ? e.message : String(e));
}

function requireReached(phase: CycleFailure['phase'], r: SetStateResult): void {
  if (r.outcome === 'REACHED') return;
  const f = r.devices.find((d) => d.failure !== null)?.failure;
  throw new CycleError(phase, f?.code ?? r.outcome, r.message);
}

/** Runs one loopback migration cycle; never leaves a device stopped unless the kernel refuses every way back. */
export async function migrateLoopback(source: StreamDevice, destination: StreamDevice, o: LoopbackOptions): Promise<CycleResult> {
  const common = { model: o.model, sink: o.sink, clock: o.clock, migrationId: o.migrationId, ...(o.alpha === undefined ? {} : { alpha: o.alpha }) };
  const src = new DeadlineSetState(source, { ...common, ...(o.link === undefined ? {} : { link: o.link }) });
  const dst = new DeadlineSetState(destination, common);
  const step = { deadlineMs: o.stepDeadlineMs ?? 10_000 };
  let precopyBytes = 0;
  let stopCopyBytes = 0;
  let switchover: SetStateResult | undefined;
  let blackoutMs: number | undefined;
  let phase: CycleFailure['phase'] = 'precopy';
  try {
    requireReached('precopy', await src.setState(MigState.PRE_COPY, step));
    phase = 'resuming';
    requireReached('resuming', await dst.setState(MigState.RESUMING, step));
    phase = 'precopy';
    for (let reads = 0; ; reads++) {
      const info = await source.precopyInfo();
      if (info.initialBytes === 0) break;
      if (reads >= (o.maxPrecopyReads ?? 1000)) throw new CycleError('precopy', 'ETIMEDOUT', `initial bytes did not drain in ${reads} reads`);
      const chunk = await source.readData(info.initialBytes);
      if (chunk.length === 0) break;
      await destination.writeData(o.tamper === undefined ? chunk : o.tamper(chunk, precopyBytes));
      precopyBytes += chunk.length;
    }

    phase = 'switchover';
    let committedAtMs = 0;
    switchover = await src.setState(MigState.STOP_COPY, {
      deadlineMs: o.deadlineMs,
      onCommit: async () => {
        committedAtMs = o.clock.nowMs;
        await o.onCommit?.();
      },
    });
    if (!switchover.committed) {
      if (switchover.outcome !== 'NOT_COMMITTED') requireReached('switchover', switchover);
      await abortDestination(destination);
      return await finish(source, destination, { migrationId: o.migrationId, committed: false, switchover, precopyBytes, stopCopyBytes });
    }

    phase = 'stream';
    const readStarted = o.clock.nowMs;
    const stream = await source.readToEnd();
    stopCopyBytes = stream.length;
    o.sink.push({ kind: 'transfer', migrationId: o.migrationId, deviceId: source.id, phase: 'stopcopy', bytes: stream.length, durationMs: o.clock.nowMs - readStarted, link: o.link ?? 'loopback' });
    await destination.writeData(o.tamper === undefined ? stream : o.tamper(stream, precopyBytes));
    phase = 'restore';
    requireReached('restore', await dst.setState(MigState.RUNNING, step));
    blackoutMs = o.clock.nowMs - committedAtMs;
    src.recordOutcome(blackoutMs);
    phase = 'source-stop';
    requireReached('source-stop', await src.setState(MigState.STOP, step));
    requireReached('source-stop', await src.setState(MigState.RUNNING, step));
    return await finish(source, destination, { migrationId: o.migrationId, committed: true, switchover, precopyBytes, stopCopyBytes, blackoutMs });
  } catch (e) {
    const failure = failureOf(phase, e);
    // Unwind: the destination out of RESUMING (reset), the source back to RUNNING.
    await abortDestination(destination).catch(() => undefined);
    await src.setState(MigState.RUNNING, step).catch(() => undefined);
    if (source.getState() === MigState.ERROR) await source.reset().catch(() => undefined);
    return finish(source, destination, {
      migrationId: o.migrationId,
      committed: switchover?.committed ?? false,
      ...(switchover === undefined ? {} : { switchover }),
      precopyBytes,
      stopCopyBytes,
      ...(blackoutMs === undefined ? {} : { blackoutMs }),
      failure: { phase: failure.phase, code: failure.code, message: failure.message },
    });
  }
}

/** Takes a destination out of RESUMING (or ERROR) with a reset; other states are left alone. */
async function abortDestination(destination: StreamDevice): Promise<void> {
  const s = destination.getState();
  if (s === MigState.RESUMING || s === MigState.ERROR || s === MigState.STOP) await destination.reset();
}

async function finish(
  source: StreamDevice,
  destination: StreamDevice,
  partial: Omit<CycleResult, 'sourceState' | 'destinationState'>,
): Promise<CycleResult> {
  // What the kernel says now, not what we believe.
  const [sourceState, destinationState] = await Promise.all([source.refreshState(), destination.refreshState()]);
  return { ...partial, sourceState, destinationState };
}

/** "RUNNING/RUNNING" for logs. */
export function describeStates(r: CycleResult): string {
  return `source ${stateName(r.sourceState)}, destination ${stateName(r.destinationState)}`;
}
