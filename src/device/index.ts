export type { MigrationDevice, PrecopyInfo } from './types.js';
export { DeviceError, DEVICE_ERRNOS, deviceErrno, type DeviceErrno } from './errors.js';
export {
  AFTER_FAILURE_MODES,
  statesAfterFailedSetState,
  isPossibleStateAfterFailure,
  stateAfterFailedArc,
  recoveryAfterFailure,
} from './after-failure.js';
export type { AfterFailureMode, Recovery } from './after-failure.js';
