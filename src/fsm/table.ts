import { MigFlags, MigState } from './states.js';

const { ERROR, STOP, RUNNING, STOP_COPY, RESUMING, RUNNING_P2P, PRE_COPY, PRE_COPY_P2P } = MigState;

/**
 * `vfio_from_fsm_table` of Linux `drivers/vfio/vfio_main.c` (`vfio_mig_get_next_state()`),
 * transcribed row by row: `FROM_FSM_TABLE[cur][target]` is the next state the kernel steps to
 * when every optional state is supported. Rows and columns use kernel numbering
 * (ERROR, STOP, RUNNING, STOP_COPY, RESUMING, RUNNING_P2P, PRE_COPY, PRE_COPY_P2P).
 *
 * The STOP_COPY row sends PRE_COPY and PRE_COPY_P2P to ERROR: those requests are blocked.
 */
export const FROM_FSM_TABLE: readonly (readonly MigState[])[] = [
  /* ERROR        */ [ERROR, ERROR, ERROR, ERROR, ERROR, ERROR, ERROR, ERROR],
  /* STOP         */ [ERROR, STOP, RUNNING_P2P, STOP_COPY, RESUMING, RUNNING_P2P, RUNNING_P2P, RUNNING_P2P],
  /* RUNNING      */ [ERROR, RUNNING_P2P, RUNNING, RUNNING_P2P, RUNNING_P2P, RUNNING_P2P, PRE_COPY, RUNNING_P2P],
  /* STOP_COPY    */ [ERROR, STOP, STOP, STOP_COPY, STOP, STOP, ERROR, ERROR],
  /* RESUMING     */ [ERROR, STOP, STOP, STOP, RESUMING, STOP, STOP, STOP],
  /* RUNNING_P2P  */ [ERROR, STOP, RUNNING, STOP, STOP, RUNNING_P2P, RUNNING, PRE_COPY_P2P],
  /* PRE_COPY     */ [ERROR, RUNNING, RUNNING, PRE_COPY_P2P, RUNNING, RUNNING, PRE_COPY, PRE_COPY_P2P],
  /* PRE_COPY_P2P */ [ERROR, RUNNING_P2P, RUNNING_P2P, STOP_COPY, RUNNING_P2P, RUNNING_P2P, PRE_COPY, PRE_COPY_P2P],
];

/**
 * `state_flags_table` of the same function: the feature flags a device must report for a state to
 * exist. ERROR needs every bit (`~0U`), so it never exists as a source or target.
 */
export const STATE_FLAGS_TABLE: readonly number[] = [
  /* ERROR        */ 0xffffffff,
  /* STOP         */ MigFlags.STOP_COPY,
  /* RUNNING      */ MigFlags.STOP_COPY,
  /* STOP_COPY    */ MigFlags.STOP_COPY,
  /* RESUMING     */ MigFlags.STOP_COPY,
  /* RUNNING_P2P  */ MigFlags.STOP_COPY | MigFlags.P2P,
  /* PRE_COPY     */ MigFlags.STOP_COPY | MigFlags.PRE_COPY,
  /* PRE_COPY_P2P */ MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY,
];
