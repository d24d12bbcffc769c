/**
 * The real kernel's VFIO migration uAPI, reached through our helper (`native/vfio-helper.c`):
 * a {@link MigrationDevice} for a VFIO-bound device on this host or in a test guest. An edge:
 * it spawns processes and opens sockets, so the pure `device` layer only names the interface.
 */
export { VfioDevice, MAX_READ_BYTES, type VfioDeviceOptions, type VfioObservation } from './vfio-device.js';
export { VfioHelperClient, HelperError, type HelperClientOptions, type HelperReply } from './vfio-helper-client.js';
