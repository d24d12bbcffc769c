import { FsmError } from './errors.js';
import { FROM_FSM_TABLE, STATE_FLAGS_TABLE } from './table.js';
import { MigFlags, MigState, flagsName, isMigState, stateName } from './states.js';

/** True when a device with these flags has this state (the kernel's `state_flags_table` test). */
export function isStateSupported(state: MigState, flags: MigFlags): boolean {
  const need = STATE_FLAGS_TABLE[state];
  return need !== undefined && ((need & flags) >>> 0) === need >>> 0;
}

/** True for a flag set a driver may report: STOP_COPY plus any of P2P and PRE_COPY, nothing else. */
export function isValidFlagSet(flags: MigFlags): boolean {
  return Number.isInteger(flags) && (flags & ~7) === 0 && (flags & MigFlags.STOP_COPY) !== 0;
}

/**
 * The next state `vfio_mig_get_next_state()` (Linux `drivers/vfio/vfio_main.c`) steps to on the
 * way from `cur` to `target`; `cur` itself when they are equal.
 *
 * Throws {@link FsmError} (`EINVAL`) exactly where the kernel returns -EINVAL: a source or target
 * the flags do not support (ERROR is never supported), or a step that lands in ERROR
 * (`STOP_COPY → PRE_COPY`/`PRE_COPY_P2P`). For those two requests kernels before the 2026
 * stable fix spin forever in the skip loop; we model the fixed kernel, which returns -EINVAL.
 */
export function nextState(cur: MigState, target: MigState, flags: MigFlags): MigState {
  if (!isValidFlagSet(flags)) {
    throw new FsmError(cur, target, flags, `flags ${flagsName(flags)} are not a set a driver may report (STOP_COPY is mandatory)`);
  }
  if (!isMigState(cur) || !isStateSupported(cur, flags)) {
    throw new FsmError(cur, target, flags, `current state ${describe(cur)} is not supported by the device`);
  }
  if (!isMigState(target) || !isStateSupported(target, flags)) {
    throw new FsmError(cur, target, flags, `target state ${describe(target)} is not supported by the device`);
  }
  let next = FROM_FSM_TABLE[cur]![target]!;
  // Arcs touching optional states the device lacks are skipped, as in the kernel loop.
  while (next !== MigState.ERROR && !isStateSupported(next, flags)) {
    next = FROM_FSM_TABLE[next]![target]!;
  }
  if (next === MigState.ERROR) {
    throw new FsmError(cur, target, flags, 'the transition is blocked by the kernel');
  }
  return next;
}

function describe(state: MigState): string {
  return isMigState(state) ? stateName(state) : String(state);
}
