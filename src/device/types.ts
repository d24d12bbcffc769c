import type { MigFlags, MigState } from '../fsm/index.js';

/** `VFIO_MIG_GET_PRECOPY_INFO`: what a PRE_COPY device still has to send. Both may grow and shrink. */
export interface PrecopyInfo {
  /** Initial data that must be read before moving to STOP_COPY for a good switchover. */
  readonly initialBytes: number;
  /** State changed since it was last read (an estimate). */
  readonly dirtyBytes: number;
  /**
   * `VFIO_PRECOPY_INFO_REINIT` was set in `flags`: new initial data is on the stream
   * (`initialBytes` may have grown, `dirtyBytes` restarted from 0 relative to it). Reported only
   * after userspace opted in with `VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2` (Linux, Yishai Hadas'
   * series, merged March 2026; `include/uapi/linux/vfio.h`); mlx5 implements it. Absent: not set.
   */
  readonly reinit?: boolean;
}

/**
 * A VFIO migration-capable device as userspace sees it through the v2 uAPI
 * (`VFIO_DEVICE_FEATURE_MIGRATION`, `..._MIG_DEVICE_STATE`, `..._MIG_DATA_SIZE`,
 * `VFIO_MIG_GET_PRECOPY_INFO`; see Linux `include/uapi/linux/vfio.h`).
 *
 * Requests are asynchronous here because a real device command takes time (milliseconds to
 * seconds on mlx5); each still completes fully before it resolves, as the ioctl does.
 */
export interface MigrationDevice {
  /** Stable identifier, e.g. a PCI address `0000:3b:00.2` or a VMM device id. */
  readonly id: string;
  /** Device model key used by the estimators, e.g. `mlx5-cx7`. */
  readonly model: string;
  /** `VFIO_MIGRATION_*` bits the device reports. */
  readonly flags: MigFlags;
  /** MIG_DEVICE_STATE GET. */
  getState(): MigState;
  /**
   * MIG_DEVICE_STATE SET: one request, which the kernel may expand into several arcs
   * (`planPath`). Rejects with `DeviceError`; afterwards `getState()` is the state the device
   * is really in (the original state, a state along the path, or ERROR).
   */
  setState(next: MigState): Promise<void>;
  /** MIG_DATA_SIZE: estimated bytes STOP_COPY will produce, including pending pre-copy data. Any state. */
  stopCopyBytes(): Promise<number>;
  /** PRECOPY_INFO; rejects with EINVAL outside PRE_COPY and PRE_COPY_P2P, as the uAPI says. */
  precopyInfo(): Promise<PrecopyInfo>;
}
