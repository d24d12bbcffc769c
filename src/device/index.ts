export type { MigrationDevice, PrecopyInfo } from './types.js';
export { DeviceError, type DeviceErrno } from './errors.js';
