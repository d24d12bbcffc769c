import { stateName, type MigState } from '../fsm/index.js';

/**
 * errno-like codes a device request fails with, as the VFIO ioctls report them:
 * EINVAL (request the FSM rejects), EIO (device command failed), ETIMEDOUT (device firmware did
 * not answer), ENOTTY (feature not implemented, e.g. no MIG_DATA_SIZE), ENOMSG (`read()` on a
 * PRE_COPY data fd whose initial data is drained for now), EBUSY, ENOMEM.
 * `VFIO_MIG_GET_PRECOPY_INFO` outside PRE_COPY/PRE_COPY_P2P is EINVAL ("valid only in PRE_COPY
 * states", `include/uapi/linux/vfio.h`; `mlx5vf_precopy_ioctl()` returns -EINVAL).
 * A real kernel answers with more: EFAULT (mtty's `mtty_resume_write()` rejecting a stream
 * header, `samples/vfio-mdev/mtty.c`), ENODEV (a data fd the driver disabled), EBADF, EOPNOTSUPP,
 * ENOENT, EPERM, EACCES, ENOSPC, EEXIST, EAGAIN, E2BIG, ESPIPE; EUNKNOWN stands for any other.
 */
export const DEVICE_ERRNOS = [
  'EINVAL', 'EIO', 'ETIMEDOUT', 'ENOTTY', 'ENOMSG', 'EBUSY', 'ENOMEM',
  'EFAULT', 'ENODEV', 'EBADF', 'EOPNOTSUPP', 'ENOENT', 'EPERM', 'EACCES', 'ENOSPC', 'EEXIST', 'EAGAIN', 'E2BIG', 'ESPIPE', 'EUNKNOWN',
] as const;
export type DeviceErrno = (typeof DEVICE_ERRNOS)[number];

/** `code` when it is one of {@link DEVICE_ERRNOS}, else `EUNKNOWN`. */
export function deviceErrno(code: string): DeviceErrno {
  return (DEVICE_ERRNOS as readonly string[]).includes(code) ? (code as DeviceErrno) : 'EUNKNOWN';
}

/** A failed device request. `stateAfter` is what `getState()` reports after the failure. */
export class DeviceError extends Error {
  constructor(
    readonly code: DeviceErrno,
    readonly deviceId: string,
    readonly operation: string,
    readonly stateAfter: MigState,
    detail: string,
  ) {
    super(`${code}: device ${deviceId}: ${operation}: ${detail} (device now in ${stateName(stateAfter)})`);
    this.name = 'DeviceError';
  }

  /**
   * The uAPI's rule: a device left in ERROR after a failed SET_STATE can only leave it through
   * `VFIO_DEVICE_RESET`.
   */
  get needsReset(): boolean {
    return this.stateAfter === 0;
  }
}
