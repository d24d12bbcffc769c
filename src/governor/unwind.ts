/**
 * The way back: bringing a device home to RUNNING (or PRE_COPY, when it is still pre-copying)
 * after a switchover was not committed or was given up. The uAPI leaves this to userspace: after
 * a failed SET_STATE "the user can then decide if it should execute a VFIO_DEVICE_RESET, attempt
 * to return to the original state, or attempt to return to some other state such as RUNNING"
 * (Linux `include/uapi/linux/vfio.h`, above `struct vfio_device_feature_mig_state`).
 */
import { recoveryAfterFailure, type MigrationDevice } from '../device/index.js';
import { MigState } from '../fsm/index.js';
import { runArc, type ArcRecorder } from './run-arc.js';
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

/** How bringing one device back ended. */
export interface BringBackResult {
  /** True when the device is in ERROR, RESUMING, or still away after the retries: `VFIO_DEVICE_RESET` is needed. */
  readonly needsReset: boolean;
  /** First failed unwind arc, if any. */
  readonly failure: DeviceFailure | null;
}

/**
 * Steps `device` home arc by arc (each arc recorded, appended to `arcs`). A failed arc re-plans
 * from the state the device reports; ERROR (and RESUMING, which only a reset aborts) is not
 * pretended away: it is reported as needing a reset.
 */
export async function bringBack(
  device: MigrationDevice,
  stopCopyBytes: number,
  rec: ArcRecorder,
  arcs: ArcRun[],
): Promise<BringBackResult> {
  let failure: DeviceFailure | null = null;
  for (let attempt = 0; attempt < MAX_UNWIND_ATTEMPTS; attempt++) {
    const state = device.getState();
    const recovery = recoveryAfterFailure(state, device.flags, homeState(state));
    if (recovery.kind === 'none') return { needsReset: false, failure };
    if (recovery.kind === 'reset') return { needsReset: true, failure };
    let from = state;
    let failed = false;
    for (const to of recovery.path) {
      const attemptArc = await runArc(device, from, to, stopCopyBytes, 'unwind', rec);
      arcs.push(attemptArc.run);
      if (attemptArc.failure !== null) {
        failure ??= attemptArc.failure;
        failed = true;
        break;
      }
      from = to;
    }
    if (!failed) return { needsReset: false, failure };
  }
  return { needsReset: !isHome(device.getState()), failure };
}
