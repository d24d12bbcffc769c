/**
 * The tuner's vocabulary: a pre-copy workload (what the guest does to its memory and what the
 * link carries), a throttle setting (the QEMU knobs), and what a setting is predicted to do.
 */
import type { CompiledModel } from '../estimators/predict.js';
import type { BlackoutDevice } from '../estimators/types.js';

/** A guest's memory during pre-copy, as measured before or during a migration. */
export interface PrecopyWorkload {
  /** Guest RAM (QEMU `ram.total`), bytes. */
  readonly ramBytes: number;
  /**
   * Whole-VM dirty rate, bytes/s: `calc-dirty-rate` / `query-dirty-rate`, or `dirty-pages-rate`
   * × `page-size` over short pre-copy rounds. Distinct pages: a page written twice counts once.
   */
  readonly dirtyBytesPerS: number;
  /**
   * Per-vCPU dirty rates, bytes/s (`calc-dirty-rate` in `dirty-ring` mode, `vcpu-dirty-rate`).
   * They are scaled to sum to {@link dirtyBytesPerS}, so only their shares matter.
   */
  readonly vcpuDirtyBytesPerS?: readonly number[] | undefined;
  /** vCPU count, when per-vCPU rates are unknown: the VM's rate is then spread evenly. */
  readonly vcpus?: number | undefined;
  /** Pre-copy transfer rate (QEMU `max-bandwidth`, or the measured `ram.mbps`), bytes/s. */
  readonly bandwidthBytesPerS: number;
  /**
   * Time the first pass takes, expressed as bytes at {@link bandwidthBytesPerS}. Zero pages are
   * scanned, not sent, so a mostly empty guest's first pass is far shorter than RAM ÷ bandwidth
   * (8 GiB in 24 s at 135 MB/s in the copied dataset). Default: {@link ramBytes} (the longest).
   */
  readonly firstPassBytes?: number | undefined;
  /** Writable working set: pages dirtied between two syncs saturate here. Default: RAM. */
  readonly wwsBytes?: number | undefined;
}

/**
 * A throttle as QEMU is told it.
 * - `none`: no throttling capability.
 * - `auto-converge`: capability `auto-converge`, `cpu-throttle-initial`/`-increment`, `max-cpu-throttle` (%).
 * - `dirty-limit`: capability `dirty-limit`, `vcpu-dirty-limit` (held here in bytes/s; QEMU takes
 *   an integer in MiB/s).
 * - `held-throttle`: a what-if, not a QEMU setting — every vCPU throttled by `pct` from the start
 *   (the level an auto-converge run reached, replayed on another run).
 */
export type ThrottleSetting =
  | { readonly kind: 'none' }
  | { readonly kind: 'auto-converge'; readonly initialPct: number; readonly incrementPct: number; readonly maxPct: number }
  | { readonly kind: 'dirty-limit'; readonly vcpuLimitBytesPerS: number }
  | { readonly kind: 'held-throttle'; readonly pct: number };

/** The mechanisms a recommendation may use. */
export type ThrottleMechanism = 'none' | 'auto-converge' | 'dirty-limit';

/** One change of the throttle during a projected migration. */
export interface ThrottleStep {
  /** Time since the migration started, ms. */
  readonly atMs: number;
  /** Pass that just ended (its sync fired the trigger). */
  readonly pass: number;
  /** Whole-VM dirty rate from now on, bytes/s. */
  readonly dirtyBytesPerS: number;
  /** Share of the guest's dirtying throttled from now on, in [0, 1]. */
  readonly slowdown: number;
  /** Share of vCPU time taken away from now on, mean over vCPUs, in [0, 1]. */
  readonly vcpuSlowdown: number;
  /** Auto-converge CPU throttle, % (0 for dirty-limit). */
  readonly cpuThrottlePct: number;
}

/** What a setting does to pre-copy, round by round (`precopy-run.ts`). */
export interface PrecopyRun {
  /** Pending RAM reached the switchover threshold at a sync. */
  readonly converged: boolean;
  /** Pending RAM stopped shrinking and no throttle step is left: it never will converge. */
  readonly stalled: boolean;
  /** Pre-copy passes sent, the first (whole-RAM) pass included. */
  readonly passes: number;
  /** QEMU `dirty-sync-count` at the end: the setup sync, one per pass, the completion's final sync. */
  readonly dirtySyncCount: number;
  /** Pre-copy time until the switchover (or until the run stopped), ms. */
  readonly precopyMs: number;
  /** RAM pending at the switchover, or at the last sync before the run stopped, bytes. */
  readonly pendingBytes: number;
  /** Bytes sent in pre-copy (first pass counted as {@link PrecopyWorkload.firstPassBytes}). */
  readonly sentBytes: number;
  /** Whole-VM dirty rate at the end, bytes/s. */
  readonly dirtyBytesPerS: number;
  /** Share of dirtying throttled at the end, in [0, 1]. */
  readonly slowdown: number;
  /** Time-weighted share of dirtying throttled over the pre-copy, in [0, 1]. */
  readonly meanSlowdown: number;
  /**
   * Share of vCPU time taken away at the end, mean over vCPUs, [0, 1]: auto-converge's pct for
   * every vCPU; dirty-limit's loss falls on the hot vCPUs only (see `vcpuTimeThrottled`).
   */
  readonly vcpuSlowdown: number;
  /** Auto-converge CPU throttle at the end, % (0 without). */
  readonly cpuThrottlePct: number;
  readonly steps: readonly ThrottleStep[];
}

/**
 * The `downtime-limit` / `avail-switchover-bandwidth` pair handed to QEMU so that its own rule
 * (`pending ≤ avail/1000 × downtime-limit`, ST §1.2) fires only when our bound fits.
 */
export interface SwitchoverKnobs {
  /** QEMU `downtime-limit`, ms (integer, 0–2,000,000). */
  readonly downtimeLimitMs: number;
  /** QEMU `avail-switchover-bandwidth`, bytes/s (integer). */
  readonly availSwitchoverBandwidthBytesPerS: number;
  /** `threshold_size` QEMU will compute from them, bytes (RAM + Σ device stop-copy sizes). */
  readonly thresholdBytes: number;
  /** The RAM part of it (threshold − Σ device sizes): the pending RAM at which it switches, bytes. */
  readonly ramThresholdBytes: number;
}

/** The numbers a setting is predicted to give. */
export interface TunePrediction {
  readonly converged: boolean;
  /** Pre-copy passes (see {@link PrecopyRun.passes}). */
  readonly rounds: number;
  /** QEMU `dirty-sync-count` at completion. */
  readonly dirtySyncCount: number;
  readonly precopyMs: number;
  /** Pre-copy + median blackout, ms. */
  readonly totalTimeMs: number;
  /**
   * 1 − α bound on the total time, ms: pre-copy at the model's learned projection error
   * (`FittedModel.precopyTime`), at most the budget, plus the blackout bound (decide's
   * `predictedTotalMs`). Infinity when the model has not learned it and there is no budget; NaN
   * when pre-copy does not converge.
   */
  readonly totalBoundMs: number;
  readonly blackoutMedianMs: number;
  /** The 1 − α bound, ms. */
  readonly blackoutBoundMs: number;
  readonly alpha: number;
  /** Bound conformal-calibrated (else the conservative union bound). */
  readonly calibrated: boolean;
  /** RAM sent in the blackout's place: pending at the switchover, bytes. */
  readonly switchoverRamBytes: number;
  /** Share of the guest's dirtying throttled at the switchover (the highest during the migration), [0, 1]. */
  readonly slowdown: number;
  /** Time-weighted over pre-copy, [0, 1]. */
  readonly meanSlowdown: number;
  /** Share of vCPU time taken away at the switchover, mean over vCPUs, [0, 1] (what the guest feels). */
  readonly vcpuSlowdown: number;
  /** Auto-converge throttle reached, %. */
  readonly cpuThrottlePct: number;
  /** Whole-VM dirty rate at the switchover, bytes/s. */
  readonly dirtyBytesPerS: number;
  /** Pre-copy + bound ≤ budget. */
  readonly withinBudget: boolean;
  /** Bound ≤ deadline. */
  readonly meetsDeadline: boolean;
}

/** One setting, the QEMU commands that make it, and its predicted effect. */
export interface Recommendation {
  readonly mechanism: ThrottleMechanism;
  readonly setting: ThrottleSetting;
  /** `migrate-set-capabilities` entries to turn on. */
  readonly capabilities: readonly string[];
  /** `migrate-set-parameters` arguments, QMP names and units (`downtime-limit` ms, `vcpu-dirty-limit` MiB/s, ...). */
  readonly parameters: Readonly<Record<string, number>>;
  readonly switchover: SwitchoverKnobs;
  readonly predicted: TunePrediction;
  /** The throttle's course in the projection. */
  readonly steps: readonly ThrottleStep[];
}

/** A non-dominated point of throttle vs time vs blackout. */
export interface TradeOff {
  readonly mechanism: ThrottleMechanism;
  readonly setting: ThrottleSetting;
  readonly parameters: Readonly<Record<string, number>>;
  /**
   * `fits`: the bound fits within the budget; `fits-later`: it fits, past the budget; `forced`:
   * switched over anyway with what is pending at the budget (or as soon as pre-copy stops
   * shrinking), the bound then above the deadline; `forced-later`: the same, later, with less pending.
   */
  readonly when: 'fits' | 'fits-later' | 'forced' | 'forced-later';
  /** Share of dirtying throttled at the switchover. */
  readonly slowdown: number;
  /** Share of vCPU time taken away at the switchover. */
  readonly vcpuSlowdown: number;
  readonly totalTimeMs: number;
  readonly blackoutMedianMs: number;
  readonly blackoutBoundMs: number;
  readonly meetsDeadline: boolean;
  readonly withinBudget: boolean;
}

/** Why {@link TuneResult} came out as it did. */
export type TuneReason =
  /** Pre-copy meets the deadline within the budget without throttling. */
  | 'NO_THROTTLE_NEEDED'
  /** A throttle makes it: see `recommended`. */
  | 'THROTTLE'
  /** Even with no RAM left the bound exceeds the deadline (devices and fixed costs alone). */
  | 'DEADLINE_UNREACHABLE'
  /** No allowed setting converges within the budget. */
  | 'BUDGET_TOO_SHORT';

/** Everything {@link tune} is asked about. */
export interface TuneInput extends PrecopyWorkload {
  /** VFIO devices at the switchover (MIG_DATA_SIZE already includes pending pre-copy data). */
  readonly devices: readonly BlackoutDevice[];
  readonly model: CompiledModel;
  readonly deadlineMs: number;
  /** Total migration time budget, ms. */
  readonly budgetMs: number;
  /** Allowed miss probability of the blackout bound, in (0, 1). */
  readonly alpha: number;
  /** The migration link as the model names it (default `default`). */
  readonly link?: string | undefined;
  /** Devices stepped one after another (QEMU's own switchover does), not in parallel. Default false. */
  readonly serial?: boolean | undefined;
  /** `multifd-channels` with the `multifd` capability: the link's rate is fitted per channel count (`estimators/channels.ts`). */
  readonly multifdChannels?: number | undefined;
  /** Device state over multifd (QEMU 10.0+): the destination loads the devices while the data arrives. */
  readonly deviceStateMultifd?: boolean | undefined;
  /** The source QEMU's version: its stack's calibration and, before 8.2, the devices' STOP_COPY → STOP inside the blackout. */
  readonly qemuVersion?: string | undefined;
  /** Mechanisms allowed (default all; `dirty-limit` only counts when vCPU rates or a count are known). */
  readonly mechanisms?: readonly ThrottleMechanism[] | undefined;
  /** QEMU `throttle-trigger-threshold`, % (default 50). */
  readonly triggerThresholdPct?: number | undefined;
  /**
   * Plan for a dirty rate this much above the measured one (fraction, default 0.1). A measured
   * ρ of 0.97 that is really 1.05 turns "no throttle needed" into a migration that never
   * converges; `calc-dirty-rate`'s page sampling and window length move the figure by that much.
   */
  readonly dirtyRateMargin?: number | undefined;
}

/** The tuner's answer. */
export interface TuneResult {
  readonly feasible: boolean;
  readonly reason: TuneReason;
  /** The setting to use (null when none meets both deadline and budget). */
  readonly recommended: Recommendation | null;
  /** The best feasible setting of each other allowed mechanism. */
  readonly alternatives: readonly Recommendation[];
  /** Non-dominated throttle / time / blackout points (always computed; the answer when infeasible). */
  readonly tradeOffs: readonly TradeOff[];
  /** ρ = measured dirty rate / pre-copy bandwidth, unthrottled. */
  readonly rho: number;
  /** The dirty rate planned for: measured × (1 + margin), bytes/s. */
  readonly plannedDirtyBytesPerS: number;
  /** Largest RAM pending at which the bound fits at the planned (unthrottled) rate, bytes (−1: none). */
  readonly targetRamBytes: number;
  /** Caveats that apply to this answer (assumptions, mechanisms skipped and why). */
  readonly notes: readonly string[];
}
