export { MigState, MigFlags, ALL_STATES, VALID_FLAG_SETS, stateName, parseStateName, isMigState, flagsName } from './states.js';
export type { MigStateName } from './states.js';
export { FROM_FSM_TABLE, STATE_FLAGS_TABLE } from './table.js';
export { FsmError } from './errors.js';
export { nextState, isStateSupported, isValidFlagSet } from './next-state.js';
export { planPath, arcKey, pathArcs } from './plan-path.js';
