/**
 * Requests to and results of `DeadlineSetState`: a SET_STATE with a deadline, for one device or
 * all devices of a VM, as the kernel list proposed it (Feb 2022): "the driver either returns fully
 * completed from STOP, or back in RUNNING, before the deadline".
 */
import type { MigState } from '../fsm/index.js';
import type { RecordSink } from '../records/records.js';
import type { CompiledModel } from '../estimators/predict.js';
import type { FittedModel } from '../estimators/types.js';
import type { NowSource } from './clock.js';
import type { Decision, SwitchoverAck, VmSnapshot } from './types.js';

/** How a `DeadlineSetState` is set up; one per migration. */
export interface DeadlineSetStateOptions {
  /**
   * Latency/size model: compiled (`compileModel()`, once per loaded model — compiling costs
   * milliseconds, a wrapper is made per migration) or fitted (compiled here). `decide()` uses the
   * compiled form, the checks between arcs the fitted arc lines (`compiled.source`).
   */
  readonly model: CompiledModel | FittedModel;
  /** Every arc, size and outcome goes here (the recording pipeline, or an array in tests). */
  readonly sink: RecordSink;
  /** Time source: the simulator's `VirtualClock`, or `realTimeClock`. */
  readonly clock: NowSource;
  /** Telemetry key of this migration. */
  readonly migrationId: string;
  /** Default miss probability for STOP_COPY decisions. Default 0.05. */
  readonly alpha?: number;
  /**
   * Within each phase (all quiesced, then all stopped, …), step devices one after another instead
   * of in parallel (the default). The phases are barriers either way. (QEMU itself steps devices in
   * turn, in `vm_state_notify()`, with or without multifd.)
   */
  readonly serial?: boolean;
  /** Link name for the blackout throughput model. Default `default`. */
  readonly link?: string;
  /** QEMU `multifd-channels` in use, as {@link VmSnapshot.multifdChannels}. */
  readonly multifdChannels?: number;
  /** Device state over multifd, as {@link VmSnapshot.deviceStateMultifd}. */
  readonly deviceStateMultifd?: boolean;
}

/** Guest RAM at the moment of a STOP_COPY request (QEMU `query-migrate` `ram.*`). */
export interface RamStatus {
  readonly remainingBytes: number;
  readonly dirtyBytesPerS: number;
  readonly bandwidthBytesPerS: number;
  readonly wwsBytes?: number;
  /** Pre-copy pass (QEMU `dirty-sync-count`), for the `ram` record. Default 0. */
  readonly pass?: number;
}

/** One request. */
export interface SetStateOptions {
  /**
   * For STOP_COPY: the blackout deadline, ms, counted from the commit (the moment the first arc
   * may start). For other targets: the time the arcs may take, ms, from the call.
   */
  readonly deadlineMs: number;
  /** STOP_COPY: miss probability for this decision (default: the instance's). */
  readonly alpha?: number;
  /** STOP_COPY: total migration time budget, ms. Default Infinity. */
  readonly budgetMs?: number;
  /** STOP_COPY: time the migration has run so far, ms. Default 0. */
  readonly elapsedMs?: number;
  /** STOP_COPY: a pause the guest tolerates, ms (watchdog, storage/network timeout); the bound must fit it too. */
  readonly guestTimeoutMs?: number;
  /** STOP_COPY: QEMU switchover-ack state (`VmSnapshot.switchoverAck`); while `pending` it never commits. Default not required. */
  readonly switchoverAck?: SwitchoverAck;
  /** STOP_COPY: guest RAM still to send. Default none (a device-only switchover). */
  readonly ram?: RamStatus;
  /**
   * STOP_COPY: called after the decision commits, before the first arc — where a VMM pauses the
   * vCPUs, as QEMU's `do_vm_stop()` (`system/cpus.c`) calls `pause_all_vcpus()` before
   * `vm_state_notify()` steps any device. Its time counts against the deadline.
   */
  readonly onCommit?: () => void | Promise<void>;
  /**
   * Called once every device runs again, after the last arc — where a VMM resumes the vCPUs, as
   * QEMU's `vm_start()` calls `resume_all_vcpus()` after `vm_prepare_start()` has stepped every
   * device: on a RUNNING request (the destination) when every device reached RUNNING, and on a
   * STOP_COPY request that committed and was then unwound, when every device is home. Not called
   * while a device needs `VFIO_DEVICE_RESET` (QEMU resets it first, in
   * `vfio_migration_set_state()`): the caller resets, then resumes.
   */
  readonly onResume?: () => void | Promise<void>;
}

/** One arc as it ran. */
export interface ArcRun {
  readonly from: MigState;
  readonly to: MigState;
  /** `forward` towards the target, `unwind` back to RUNNING/PRE_COPY. */
  readonly phase: 'forward' | 'unwind';
  readonly startedAtMs: number;
  readonly latencyMs: number;
  readonly ok: boolean;
  /** errno-like code of a failed arc. */
  readonly errno?: string;
}

/** The first failure a device met during the request. */
export interface DeviceFailure {
  readonly code: string;
  readonly message: string;
  /** State `getState()` reported after it. */
  readonly stateAfter: MigState;
}

/** What happened to one device. */
export interface DeviceResult {
  readonly id: string;
  readonly model: string;
  readonly initialState: MigState;
  readonly finalState: MigState;
  readonly arcs: readonly ArcRun[];
  readonly failure: DeviceFailure | null;
  /** In ERROR (or stuck out of RUNNING/PRE_COPY after retries): needs `VFIO_DEVICE_RESET`. */
  readonly needsReset: boolean;
}

/**
 * - `REACHED`: every device is in the target.
 * - `NOT_COMMITTED`: STOP_COPY was not committed (`decision` says why); devices are RUNNING or
 *   PRE_COPY (or listed in `needsReset`); pre-copy can go on.
 * - `UNWOUND_ARC_FAILED`: an arc failed on the way to STOP_COPY; every device was brought back
 *   and every pre-copy session survived (PRE_COPY_P2P → PRE_COPY).
 * - `UNWOUND_OVERRUN`: arcs overran so that finishing could no longer meet the deadline while
 *   going back could; every device was brought back before any was asked for STOP_COPY.
 * - `UNWOUND_PRECOPY_LOST`: brought back (after a failed arc), but a device that was pre-copying
 *   is now in RUNNING (or needs a reset): its pre-copy session, part of which the destination
 *   holds, is gone (`precopyLost`). The migration must start over.
 * - `FAILED`: an arc towards another target failed; devices are where `getState()` says.
 */
export type SetStateOutcome = 'REACHED' | 'NOT_COMMITTED' | 'UNWOUND_ARC_FAILED' | 'UNWOUND_OVERRUN' | 'UNWOUND_PRECOPY_LOST' | 'FAILED';

/** The answer to a request. */
export interface SetStateResult {
  readonly target: MigState;
  readonly outcome: SetStateOutcome;
  /** True only when the target is STOP_COPY and every device reached it. */
  readonly committed: boolean;
  /** STOP_COPY: the decision taken first; `null` for other targets. */
  readonly decision: Decision | null;
  readonly deadlineMs: number;
  /** Clock time the deadline counts from (the commit for STOP_COPY), ms. */
  readonly startedAtMs: number;
  /** Time from `startedAtMs` until the last arc ended, ms (for STOP_COPY: vCPU stop included). */
  readonly elapsedMs: number;
  /**
   * Committed STOP_COPY: `elapsedMs` plus the predicted median of the blackout still to come
   * (transfer, destination load, restart) ≤ `deadlineMs` — false when the committed blackout
   * is already past the deadline, or certain to end past it; `recordOutcome()` then records
   * the blackout as measured. Otherwise: `elapsedMs ≤ deadlineMs`.
   */
  readonly metDeadline: boolean;
  readonly devices: readonly DeviceResult[];
  /** Ids of devices that need `VFIO_DEVICE_RESET` (the uAPI's only way out of ERROR). */
  readonly needsReset: readonly string[];
  /**
   * Ids of devices that were in PRE_COPY/PRE_COPY_P2P and, the switchover not committed, are no
   * longer pre-copying (brought back from STOP_COPY to RUNNING, or in ERROR): their pre-copy
   * data stream ended, so the migration must restart. Empty when committed.
   */
  readonly precopyLost: readonly string[];
  /** One sentence for logs: what happened and why. */
  readonly message: string;
}
