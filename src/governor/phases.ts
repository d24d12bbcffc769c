/**
 * The devices of a VM step in phases with barriers, as QEMU steps them: no device stops while
 * another may still initiate peer-to-peer DMA into it, and none starts running fully before
 * every device can take such DMA again.
 *
 * The uAPI's reason (Linux `include/uapi/linux/vfio.h`, above `enum vfio_device_mig_state`):
 * "The RUNNING_P2P states must prevent the device from initiating any new P2P DMA transactions
 * [...] intended to be a quiescent state for the device for the purposes of managing multiple
 * devices within a user context where peer-to-peer DMA between devices may be active."
 *
 * QEMU's order (`hw/vfio/migration.c`, `system/cpus.c`, `system/runstate.c`):
 * - stopping, `do_vm_stop()`: `pause_all_vcpus()`, then `vm_state_notify(false, …)`, which calls
 *   every prepare handler before any main handler. VFIO registers its prepare handler
 *   (`vfio_vmstate_change_prepare()`: PRE_COPY → PRE_COPY_P2P, else → RUNNING_P2P) only for
 *   devices with `VFIO_MIGRATION_P2P`; the main handler (`vfio_vmstate_change()`) takes a
 *   pre-copying device to STOP_COPY and any other to STOP. `vfio_save_complete_precopy()` later
 *   takes a STOP device to STOP_COPY.
 * - starting, `vm_start()`: `vm_prepare_start()` runs `vm_state_notify(true, …)` (prepare: →
 *   RUNNING_P2P; main: → RUNNING), and only then `resume_all_vcpus()`.
 *
 * A device without P2P has no prepare step and moves in the main step. QEMU refuses to migrate
 * more than one VFIO device unless all have P2P (`vfio_multiple_devices_migration_is_supported()`
 * in `hw/vfio/common.c`): with two such devices no order is safe. With one we order it so the
 * rule still holds: it stops first among the stopping devices and starts first among the starting
 * ones, while every other device is quiesced in RUNNING_P2P/PRE_COPY_P2P (running, so a target
 * of DMA, but initiating none).
 *
 * One table: every arc has a kind, kinds have a fixed order, and a phase is all arcs of one kind
 * across the devices. Each device's path gets the earliest phases in order that follow each
 * other, so a phase never starts before the one before it has ended on every device.
 */
import { MigState } from '../fsm/index.js';
import { runArc, type ArcRecorder } from './run-arc.js';
import type { ArcRun, DeviceFailure } from './set-state-types.js';
import type { MigrationDevice } from '../device/index.js';

/** 3: running, may initiate P2P DMA; 2: running with P2P quiesced; 1: stopped (or ERROR). */
function runLevel(state: MigState): 1 | 2 | 3 {
  if (state === MigState.RUNNING || state === MigState.PRE_COPY) return 3;
  if (state === MigState.RUNNING_P2P || state === MigState.PRE_COPY_P2P) return 2;
  return 1;
}

/** Arc kinds by the run levels they go from and to: `KIND_BY_LEVELS[from][to]`. */
const KIND_BY_LEVELS = {
  3: { 3: 'running', 2: 'quiesce', 1: 'stop-without-p2p' },
  2: { 3: 'start', 2: 'quiesced', 1: 'stop' },
  1: { 3: 'start-without-p2p', 2: 'start-quiesced', 1: 'stopped' },
} as const;

type ArcKind = (typeof KIND_BY_LEVELS)[1 | 2 | 3][1 | 2 | 3];

/**
 * The phases in order: stopping (QEMU's `do_vm_stop()`), then starting (`vm_start()`). Arcs that
 * keep the run level appear on both sides, so a path can do them on its way down or up.
 */
export const PHASE_ORDER: readonly ArcKind[] = [
  'running', //           RUNNING ↔ PRE_COPY
  'quiesce', //           → RUNNING_P2P / PRE_COPY_P2P: every prepare handler first
  'quiesced', //          RUNNING_P2P ↔ PRE_COPY_P2P
  'stop-without-p2p', //  no P2P: straight to STOP / STOP_COPY, first of the main handlers
  'stop', //              → STOP / STOP_COPY (`vfio_vmstate_change()`, not running)
  'stopped', //           STOP → STOP_COPY (`vfio_save_complete_precopy()`), RESUMING → STOP (load), STOP_COPY → STOP
  'start-quiesced', //    STOP → RUNNING_P2P (prepare handler, running)
  'quiesced',
  'start-without-p2p', // no P2P: STOP → RUNNING, first of the main handlers (the others can take DMA)
  'start', //             → RUNNING / PRE_COPY (`vfio_vmstate_change()`, running)
  'running',
];

/**
 * The phase of every arc of `path` from `from`: indices into {@link PHASE_ORDER}, non-decreasing.
 * Every path the kernel's FSM plans fits the order (tested over all of them); an arc that did
 * not would share the phase of the arc before it.
 */
export function phasesOf(from: MigState, path: readonly MigState[]): number[] {
  const phases: number[] = [];
  let cursor = 0;
  let at = from;
  for (const to of path) {
    const i = PHASE_ORDER.indexOf(KIND_BY_LEVELS[runLevel(at)][runLevel(to)], cursor);
    if (i >= 0) cursor = i;
    phases.push(cursor);
    at = to;
  }
  return phases;
}

/** One device's walk along a planned path, phase by phase. */
export interface PhasedLane {
  readonly device: MigrationDevice;
  /** MIG_DATA_SIZE known at the start; recorded with every arc. */
  readonly stopCopyBytes: number;
  /** State before the next arc. */
  at: MigState;
  readonly plan: readonly MigState[];
  /** Phase of each arc of `plan` ({@link phasesOf}). */
  readonly phases: readonly number[];
  /** Arcs issued so far. */
  next: number;
  /** Where every arc run is appended (shared with the device's result). */
  readonly arcs: ArcRun[];
  failure: DeviceFailure | null;
}

/** A lane along `plan` from `from`. */
export function phasedLane(device: MigrationDevice, from: MigState, plan: readonly MigState[], stopCopyBytes: number, arcs: ArcRun[]): PhasedLane {
  return { device, stopCopyBytes, at: from, plan, phases: phasesOf(from, plan), next: 0, arcs, failure: null };
}

/** How to run the phases. */
export interface PhaseRun {
  /** Within a phase, devices one after another instead of all at once. */
  readonly serial: boolean;
  readonly rec: ArcRecorder;
  readonly direction: ArcRun['phase'];
  /** Stop issuing arcs at the first failure (forward), or go on with the other devices (unwind). */
  readonly stopOnFailure: boolean;
  /**
   * Asked before a phase starts (in parallel) or before each arc (in series), when no arc is in
   * flight: `true` stops the run there.
   */
  readonly stopBefore?: () => boolean;
}

/** How a run of phases ended. */
export type PhaseEnd = 'done' | 'failed' | 'stopped';

/**
 * Steps every lane to the end of its plan, phase by phase: an arc of phase p is issued only when
 * every lane has finished its arcs of earlier phases. A failed lane stops where it is.
 */
export async function runPhases(lanes: readonly PhasedLane[], run: PhaseRun): Promise<PhaseEnd> {
  let failed = false;
  for (;;) {
    let phase = Infinity;
    for (const lane of lanes) if (lane.failure === null && lane.next < lane.plan.length) phase = Math.min(phase, lane.phases[lane.next]!);
    if (phase === Infinity) return failed ? 'failed' : 'done';
    const members = lanes.filter((l) => l.failure === null && l.next < l.plan.length && l.phases[l.next] === phase);
    if (run.serial) {
      for (const lane of members) {
        while (lane.next < lane.plan.length && lane.phases[lane.next] === phase) {
          if (run.stopBefore?.() === true) return 'stopped';
          if (!(await stepArc(lane, run))) break;
        }
        if (lane.failure !== null) {
          failed = true;
          if (run.stopOnFailure) return 'failed';
        }
      }
    } else {
      if (run.stopBefore?.() === true) return 'stopped';
      if (members.length === 1) await walkPhase(members[0]!, phase, run);
      else await Promise.all(members.map((lane) => walkPhase(lane, phase, run)));
      if (members.some((l) => l.failure !== null)) {
        failed = true;
        if (run.stopOnFailure) return 'failed';
      }
    }
  }
}

/** Issues the lane's arcs of `phase`, one after another, until one fails. */
async function walkPhase(lane: PhasedLane, phase: number, run: PhaseRun): Promise<void> {
  while (lane.next < lane.plan.length && lane.phases[lane.next] === phase) if (!(await stepArc(lane, run))) return;
}

/** Issues the lane's next arc; false when it failed. */
async function stepArc(lane: PhasedLane, run: PhaseRun): Promise<boolean> {
  const to = lane.plan[lane.next]!;
  lane.next++;
  const attempt = await runArc(lane.device, lane.at, to, lane.stopCopyBytes, run.direction, run.rec);
  lane.arcs.push(attempt.run);
  if (attempt.failure !== null) {
    lane.failure = attempt.failure;
    return false;
  }
  lane.at = to;
  return true;
}
