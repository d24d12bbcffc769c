/**
 * The governor's inputs and its answer: what a VMM knows at one moment of a pre-copy migration
 * ({@link VmSnapshot}), what it promised ({@link Slo}), and what to do now ({@link Decision}).
 * Names and units follow `shared/specs/design.md` ("Governor", contract names).
 */
import type { MigFlags, MigState } from '../fsm/index.js';
import type { BlackoutPart } from '../estimators/types.js';

/** One VFIO device at the moment of the decision. */
export interface DeviceSnapshot {
  readonly id: string;
  /** Device model key of the fitted model, e.g. `mlx5-cx7`. */
  readonly model: string;
  /** MIG_DEVICE_STATE GET. */
  readonly state: MigState;
  /** `VFIO_MIGRATION_*` bits. */
  readonly flags: MigFlags;
  /**
   * `VFIO_DEVICE_FEATURE_MIG_DATA_SIZE` (`stop_copy_length`): bytes STOP_COPY will produce,
   * already including pending pre-copy data. `null` when the query failed: the governor then
   * never commits, as QEMU (`vfio_state_pending_exact()` in `hw/vfio/migration.c`) counts a
   * failed query as `VFIO_MIG_STOP_COPY_SIZE` = 100 GiB to block the switchover.
   */
  readonly stopCopyBytes: number | null;
  /** `VFIO_MIG_GET_PRECOPY_INFO.initial_bytes`, PRE_COPY states only. */
  readonly initialBytes?: number;
  /** `VFIO_MIG_GET_PRECOPY_INFO.dirty_bytes`, PRE_COPY states only. */
  readonly dirtyBytes?: number;
  /**
   * PRECOPY_INFO reported `VFIO_PRECOPY_INFO_REINIT` at this probe: new initial data is on the
   * stream, so what the destination loaded and acked is stale (see {@link VmSnapshot.switchoverAck}).
   */
  readonly reinit?: boolean;
}

/**
 * QEMU's switchover-ack (capability `switchover-ack`, QEMU 8.1+, needs `return-path`;
 * `docs/devel/migration/vfio.rst`): the source stops the VM only once the destination has loaded
 * every VFIO device's pre-copy initial bytes and acked (`migration_can_switchover()`,
 * switchover-today.md §1.1). `not-required`: capability off, or no device needs it (QEMU asks
 * `switchover_ack_needed` only of devices with `VFIO_MIGRATION_PRE_COPY`); `pending`: the ack has
 * not come, or was withdrawn; `received`: the destination acked.
 */
export type SwitchoverAck = 'not-required' | 'pending' | 'received';

/** A VM at the moment of the decision. */
export interface VmSnapshot {
  readonly devices: readonly DeviceSnapshot[];
  /** Guest RAM still to send (QEMU `ram.remaining`). */
  readonly ramRemainingBytes: number;
  /** Rate the guest dirties RAM (QEMU `ram.dirty-pages-rate` × page size), bytes/s. */
  readonly ramDirtyBytesPerS: number;
  /** Pre-copy transfer rate (QEMU `ram.mbps`, the throttled rate), bytes/s. */
  readonly precopyBandwidthBytesPerS: number;
  /** Writable working set, if known: pending RAM never exceeds it. */
  readonly wwsBytes?: number;
  /**
   * QEMU's own pre-copy passes: `ram.remaining` at the first poll of each `dirty-sync-count`
   * after the first pass, oldest first (the last few suffice: `PLATEAU_PASSES`). When the latest
   * pass starts have stopped shrinking above the size at which the switchover fits, pre-copy does
   * not converge on its own however small ρ is (`estimators/precopy-plateau.ts`, Clark et al.
   * 2005): `decide()` then does not wait (`NOT_CONVERGING`). Absent: the projection from ρ alone.
   */
  readonly ramPassStartBytes?: readonly number[];
  /** Time since the migration started, ms. */
  readonly elapsedMs: number;
  /** Link name for the blackout throughput model; `default` when absent. */
  readonly link?: string;
  /** Devices are switched one after another (default: in parallel). */
  readonly serial?: boolean;
  /**
   * QEMU `multifd-channels` (`query-migrate-parameters`) when the `multifd` capability is on: the
   * blackout rate is the model's for `link` at that channel count, else for `link` (`channels.ts`).
   */
  readonly multifdChannels?: number;
  /**
   * Device STOP_COPY data over multifd (QEMU ≥ 10.0 `x-migration-multifd-transfer`): the devices
   * (each its stream, then its load) run beside the transfer and each other. `false`: the main
   * channel, transfer then loads one after another. Absent: as before (loads aggregated like the
   * arcs).
   */
  readonly deviceStateMultifd?: boolean;
  /**
   * Switchover-ack state as the VMM reports it; absent = `not-required` (QEMU before 8.1, or the
   * capability off). The ack may go back to `pending` (a per-device re-request is under review
   * upstream; a PRE_COPY re-init makes new initial bytes): `decide()` holds no memory of it.
   */
  readonly switchoverAck?: SwitchoverAck;
  /**
   * The source QEMU's version (`query-version`, `major.minor.micro`): the bound then uses the
   * calibration of this stack when the model has enough of it (`Decision.calibrationGroup`), and
   * before QEMU 8.2 counts the devices' STOP_COPY → STOP in the blackout (`estimators/stack.ts`).
   * Absent: pooled calibration, current QEMU's placement.
   */
  readonly qemuVersion?: string;
}

/** What was promised for this migration. */
export interface Slo {
  /** Blackout (guest paused) deadline, ms. */
  readonly deadlineMs: number;
  /** Allowed miss probability: commit only when P(blackout ≤ deadline) ≥ 1 − alpha. In (0, 1). */
  readonly alpha: number;
  /** Total migration time budget, ms (`Infinity` for none). */
  readonly budgetMs: number;
  /**
   * A pause the guest itself tolerates, ms (a watchdog, a storage or network timeout inside the
   * guest). The bound must fit it too: the lower of it and `deadlineMs` binds. Absent = none.
   */
  readonly guestTimeoutMs?: number;
}

/** Which limit the 1 − α bound was held to: the SLO's deadline or the guest's own timeout. */
export type BindingLimit = 'deadline' | 'guest-timeout';

/** The four things a governor can tell a VMM. */
export type DecisionAction = 'commit' | 'wait' | 'throttle' | 'abort';

/**
 * Every reason code and the action it leads to: the reason decides the action, so this table is
 * the whole vocabulary of {@link Decision}. Stable strings (stored and compared by VMMs).
 */
export const REASON_ACTIONS = {
  /** The 1 − α bound fits the deadline and no PRE_COPY initial data is pending. */
  FITS: 'commit',
  /** The bound fits; initial bytes are still pending but the budget cannot drain them (or RAM would grow meanwhile). */
  FITS_INITIAL_UNDRAINED: 'commit',
  /** The bound fits, but PRE_COPY `initial_bytes` > 0: the uAPI recommends draining them first. */
  INITIAL_BYTES_PENDING: 'wait',
  /** The bound does not fit yet; pre-copy converges (ρ < 1) to a fitting RAM size within the budget. */
  CONVERGING: 'wait',
  /** Only with device pre-copy data drained does the bound fit, and the budget allows draining it. */
  DEVICE_PRECOPY_PENDING: 'wait',
  /**
   * The bound fits, but switchover-ack is on and the destination has not acked (or withdrew
   * its ack): QEMU will not stop the VM (`migration_can_switchover()`), so neither do we.
   */
  SWITCHOVER_ACK_PENDING: 'wait',
  /** A MIG_DATA_SIZE query failed: never commit blind, keep pre-copying and ask again. */
  SIZE_QUERY_FAILED: 'wait',
  /**
   * The bound does not fit and waiting will not help: ρ ≥ 1, or QEMU's passes have stopped
   * shrinking above a fitting size (`Decision.precopyPlateauBytes`); dirtying must slow down.
   */
  NOT_CONVERGING: 'throttle',
  /** ρ < 1 but pre-copy would not reach a fitting size within the budget. */
  CONVERGING_TOO_SLOWLY: 'throttle',
  /**
   * Even with no RAM left, what the guest dirties during the final sync (dirty rate × the
   * model's carry) breaks the deadline: only a slower-dirtying guest can fit, whatever ρ is.
   */
  DIRTY_RATE_TOO_HIGH: 'throttle',
  /** The time budget is spent. */
  BUDGET_SPENT: 'abort',
  /** Even a guest that dirtied nothing could not send enough within the remaining budget. */
  BUDGET_INSUFFICIENT: 'abort',
  /** With no RAM left and device pre-copy data drained, the bound still exceeds the deadline. */
  DEADLINE_UNREACHABLE: 'abort',
  /**
   * The deadline is out of reach because of a device without PRE_COPY (`pds-vfio-pci`,
   * `xe-vfio-pci`, `vfio_ap`): its whole state moves in the blackout, and it alone, with no RAM
   * left, exceeds the limit. `reasonDeviceIds` names it.
   */
  STOP_COPY_ONLY_DEVICE_TOO_SLOW: 'abort',
  /** A device is in ERROR: it needs `VFIO_DEVICE_RESET`. */
  DEVICE_ERROR: 'abort',
  /** A device reports a state that is not a migration source state, or one its flags lack. */
  DEVICE_STATE_UNKNOWN: 'abort',
  /** The model has no latency for some device model/arc and no prior: the bound cannot be trusted. */
  MODEL_MISSING: 'abort',
} as const satisfies Readonly<Record<string, DecisionAction>>;

export type DecisionReason = keyof typeof REASON_ACTIONS;

/**
 * Dirty-rate numbers that make the switchover fit when followed (later mapped to QEMU
 * dirty-limit/auto-converge): at `maxDirtyBytesPerS` pre-copy reaches the decision's
 * `targetRamBytes` within the budget, and with that RAM left at that rate the bound fits.
 */
export interface ThrottleAdvice {
  /** Highest guest dirty rate (within 0.1 %) at which pre-copy reaches `targetRamBytes` within the budget and the bound there fits, bytes/s. 0 = pause. */
  readonly maxDirtyBytesPerS: number;
  /** The dirty rate now, bytes/s. */
  readonly currentDirtyBytesPerS: number;
  /** Share of the current dirtying to take away, in [0, 1]: `1 − max / current`. */
  readonly throttleFraction: number;
}

/** The governor's answer, with every number that caused it (QEMU/Cloud Hypervisor style traceability). */
export interface Decision {
  readonly action: DecisionAction;
  readonly reason: DecisionReason;
  /** The 1 − α blackout bound, ms (NaN when no prediction could be made: device ERROR/unknown, budget spent). */
  readonly predictedBlackoutMs: number;
  /** The predicted median blackout, ms (NaN as above). */
  readonly medianBlackoutMs: number;
  readonly deadlineMs: number;
  /** The guest's own pause tolerance from the SLO, ms (`null`: none). */
  readonly guestTimeoutMs: number | null;
  /** The limit the bound was held to: the lower of `deadlineMs` and `guestTimeoutMs` (ties: `deadline`). */
  readonly bindingLimit: BindingLimit;
  readonly alpha: number;
  /** True when the bound is conformal-calibrated. */
  readonly calibrated: boolean;
  /** The calibration scores the bound used: the snapshot's stack key, or `pooled` (`null`: no prediction). */
  readonly calibrationGroup: string | null;
  /** Per-device, per-arc parts of the prediction (vCPU stop, source arcs, transfer, destination load, restart). */
  readonly breakdown: readonly BlackoutPart[];
  /** Device models/arcs the model lacks (non-empty only with `MODEL_MISSING`). */
  readonly missing: readonly string[];
  /** Devices the reason is about: in ERROR, in an unknown state, whose size query failed, or a STOP_COPY-only device that alone breaks the limit. */
  readonly reasonDeviceIds: readonly string[];
  /** ρ = RAM dirty rate / pre-copy bandwidth. */
  readonly rho: number;
  /** Migration time left in the budget, ms. */
  readonly budgetLeftMs: number;
  /** Largest guest RAM remaining at which the bound fits (non-commit decisions; for `throttle`, at the advised dirty rate), bytes. */
  readonly targetRamBytes: number | null;
  /**
   * Projected pre-copy time until the switchover fits (`wait`), ms. With switchover-ack pending it
   * is at least the time to send the pending initial bytes and for the destination to load them.
   */
  readonly waitMs: number | null;
  /** Dirty-rate numbers (`throttle`). */
  readonly throttle: ThrottleAdvice | null;
  /**
   * The level QEMU's pre-copy passes have stopped shrinking at (the least of the last pass
   * starts, `estimators/precopy-plateau.ts`), bytes; `null` while they still shrink, with too few
   * passes in `VmSnapshot.ramPassStartBytes`, or when the bound already fits (not looked at).
   * Above `targetRamBytes` at today's dirty rate it makes the decision `NOT_CONVERGING`, and the
   * throttle advice starts from a dirty rate of at least the pre-copy bandwidth: the passes show
   * the guest re-dirties what each pass sends.
   */
  readonly precopyPlateauBytes: number | null;
  /**
   * Predicted median time from now to the end of the migration, ms: pre-copy still to run
   * (`waitMs`, or at the advised dirty rate for `throttle`) plus the blackout; the blackout alone
   * for `commit`. NaN when the decision does not expect completion from here (abort, a failed size
   * query, a missing model).
   */
  readonly medianTotalMs: number;
  /**
   * The 1 − α bound on that time, ms: pre-copy at the model's learned projection error
   * (`FittedModel.precopyTime`), never past the budget (the governor aborts there; Infinity with
   * neither), plus the limit the blackout bound is held to. NaN as `medianTotalMs`.
   */
  readonly predictedTotalMs: number;
}
