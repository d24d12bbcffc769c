/**
 * What state a device is in after a failed `VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE` SET, and what
 * userspace must do next. Pure: the simulator uses it to place a failing device, the governor to
 * check what a real device reports and to plan its way back.
 *
 * The rules, from Linux `include/uapi/linux/vfio.h`:
 * - above `struct vfio_device_feature_mig_state`: "If this function fails then current
 *   device_state may be the original operating state or some other state along the combination
 *   transition path. The user can then decide if it should execute a VFIO_DEVICE_RESET, attempt
 *   to return to the original state, or attempt to return to some other state such as RUNNING
 *   or STOP."
 * - above `enum vfio_device_mig_state`, arc `any -> ERROR`: "any transition request can be
 *   failed with an errno return and may then move the device_state into ERROR. [...] To recover
 *   from ERROR VFIO_DEVICE_RESET must be used to return the device_state back to RUNNING."
 * - same comment: "the user may see any step along the path in the device_state if SET_STATE
 *   fails", and under `RESUMING -> STOP`: "To abort a RESUMING session the device must be reset."
 */
import { MigState, planPath, type MigFlags } from '../fsm/index.js';

/**
 * Where a failed arc leaves the device, the three outcomes the uAPI allows:
 * - `original`: the driver put the device back where the request started;
 * - `along-path`: the device stays in the last state it fully reached, which is what the
 *   drivers' step loops do (`mlx5vf_pci_set_device_state()` in `drivers/vfio/pci/mlx5/main.c`
 *   records `mig_state = next_state` only after a step succeeds, and stops at the first error);
 * - `error`: the driver could neither finish the arc nor restore a valid state.
 */
export const AFTER_FAILURE_MODES = ['original', 'along-path', 'error'] as const;
export type AfterFailureMode = (typeof AFTER_FAILURE_MODES)[number];

/**
 * Every state `getState()` may report after `setState(target)` from `cur` failed, in path order:
 * `cur`, each state of `planPath(cur, target)` (the target included: `vfio_ioct_mig_return_fd()`
 * in `drivers/vfio/vfio_main.c` can fail after the driver reached a state that opens a data fd),
 * then ERROR. A request the FSM rejects fails before any arc runs
 * (`vfio_mig_get_next_state()` returns -EINVAL first), so it leaves only `[cur]`; so does a
 * request for the current state, which runs no arc.
 */
export function statesAfterFailedSetState(cur: MigState, target: MigState, flags: MigFlags): MigState[] {
  let path: MigState[];
  try {
    path = planPath(cur, target, flags);
  } catch {
    return [cur];
  }
  // No arc to run: the driver's step loop does nothing, the device stays put.
  if (path.length === 0) return [cur];
  return [cur, ...path, MigState.ERROR];
}

/** True when `observed` is a state the uAPI allows after `setState(target)` from `cur` failed. */
export function isPossibleStateAfterFailure(
  cur: MigState,
  target: MigState,
  flags: MigFlags,
  observed: MigState,
): boolean {
  return statesAfterFailedSetState(cur, target, flags).includes(observed);
}

/**
 * The state a device is in when arc number `failedArc` of `path` (as from `planPath(cur, ...)`,
 * 0 = the arc leaving `cur`) fails, under `mode`. `along-path` is the last state reached before
 * the failing arc, so it equals `original` when the first arc fails.
 */
export function stateAfterFailedArc(
  cur: MigState,
  path: readonly MigState[],
  failedArc: number,
  mode: AfterFailureMode,
): MigState {
  if (!Number.isInteger(failedArc) || failedArc < 0 || failedArc >= path.length) {
    throw new RangeError(`failed arc index ${String(failedArc)} is outside a path of ${path.length} arcs`);
  }
  switch (mode) {
    case 'original':
      return cur;
    case 'along-path':
      return failedArc === 0 ? cur : path[failedArc - 1]!;
    case 'error':
      return MigState.ERROR;
  }
}

/** What userspace does next after a failure, to reach `goal`. */
export type Recovery =
  /** Already in the goal state. */
  | { readonly kind: 'none' }
  /**
   * `VFIO_DEVICE_RESET`: the only way out of ERROR, and the uAPI's way to abort RESUMING. The
   * device is RUNNING afterwards; plan again from there if the goal is not RUNNING.
   */
  | { readonly kind: 'reset'; readonly reason: 'error-state' | 'abort-resuming' | 'no-path' }
  /** A new SET_STATE request, stepping these states (as `planPath` gives them). */
  | { readonly kind: 'set-state'; readonly path: readonly MigState[] };

/**
 * How to get from `state` (what `getState()` reported after a failure) to `goal` (RUNNING by
 * default: the unwind of an aborted migration on the source). ERROR and RESUMING need a reset;
 * a state the FSM cannot route to the goal (e.g. STOP_COPY towards PRE_COPY) does too.
 */
export function recoveryAfterFailure(state: MigState, flags: MigFlags, goal: MigState = MigState.RUNNING): Recovery {
  if (state === goal) return { kind: 'none' };
  if (state === MigState.ERROR) return { kind: 'reset', reason: 'error-state' };
  if (state === MigState.RESUMING) return { kind: 'reset', reason: 'abort-resuming' };
  try {
    return { kind: 'set-state', path: planPath(state, goal, flags) };
  } catch {
    return { kind: 'reset', reason: 'no-path' };
  }
}
