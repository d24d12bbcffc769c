/**
 * The way back: bringing a device home to RUNNING (or PRE_COPY, when it is still pre-copying)
 * after a switchover was not committed or was given up. The uAPI leaves this to userspace: after
 * a failed SET_STATE "the user can then decide if it should execute a VFIO_DEVICE_RESET, attempt
 * to return to the original state, or attempt to return to some other state such as RUNNING"
 * (Linux `include/uapi/linux/vfio.h`, above `struct vfio_device_feature_mig_state`).
 */
import { recoveryAfterFailure, type MigrationDevice } from '../device/index.js';
import { MigState } from '../fsm/index.js';
import { phasedLane, runPhases, type PhasedLane } from './phases.js';
import type { ArcRecorder } from './run-arc.js';
import type { ArcRun, DeviceFailure } from './set-state-types.js';
import { isPrecopyState } from './snapshot-devices.js';

/** Re-plans after a failed unwind arc before reporting the device as needing a reset. */
const MAX_UNWIND_ATTEMPTS = 3;

/**
 * Where a device in `state` goes back to: PRE_COPY from a PRE_COPY state (its data fd and
 * pre-copy progress survive), RUNNING from anything else. From STOP_COPY it can only be RUNNING:
 * `STOP_COPY → PRE_COPY` is blocked by the kernel (`vfio_from_fsm_table`), and a new PRE_COPY
 * after STOP would start pre-copy over.
 */
export function homeState(state: MigState): MigState {
  return isPrecopyState(state) ? MigState.PRE_COPY : MigState.RUNNING;
}

/** True for the states a not-committed request may leave a device in. */
export function isHome(state: MigState): boolean {
  return state === MigState.RUNNING || state === MigState.PRE_COPY;
}

/** One device of a VM being brought home: its arcs so far and what happened to it. */
export interface HomeTrack {
  readonly device: MigrationDevice;
  readonly stopCopyBytes: number;
  /** Every arc run is appended here. */
  readonly arcs: ArcRun[];
  /** First failure; an unwind failure is kept only when there was none before. */
  failure: DeviceFailure | null;
  /** Set when the device is in ERROR, RESUMING, or still away after the retries: `VFIO_DEVICE_RESET` is needed. */
  needsReset: boolean;
}

/**
 * Steps every device home (each arc recorded) in the phases of `phases.ts`, so the way back keeps
 * the P2P barrier too: every stopped device reaches RUNNING_P2P before any device runs fully, as
 * QEMU's `vm_start()` after a failed migration does. A failed arc re-plans from the state the
 * device reports, up to {@link MAX_UNWIND_ATTEMPTS} rounds, while the other devices go on; ERROR
 * (and RESUMING, which only a reset aborts) is not pretended away: it is reported as needing a
 * reset.
 */
export async function bringAllBack(tracks: readonly HomeTrack[], serial: boolean, rec: ArcRecorder): Promise<void> {
  for (let attempt = 0; attempt < MAX_UNWIND_ATTEMPTS; attempt++) {
    const lanes: PhasedLane[] = [];
    const owners: HomeTrack[] = [];
    for (const t of tracks) {
      if (t.needsReset) continue;
      const state = t.device.getState();
      const recovery = recoveryAfterFailure(state, t.device.flags, homeState(state));
      if (recovery.kind === 'none') continue;
      if (recovery.kind === 'reset') {
        t.needsReset = true;
        continue;
      }
      lanes.push(phasedLane(t.device, state, recovery.path, t.stopCopyBytes, t.arcs));
      owners.push(t);
    }
    if (lanes.length === 0) return;
    await runPhases(lanes, { serial, rec, direction: 'unwind', stopOnFailure: false });
    lanes.forEach((lane, i) => {
      owners[i]!.failure ??= lane.failure;
    });
  }
  for (const t of tracks) if (!isHome(t.device.getState())) t.needsReset = true;
}
