/**
 * Questions `decide()` asks about the devices of a snapshot. Each is a loop over at most a
 * handful of devices with no allocation, so the commit path stays in the microsecond range.
 */
import { MigState, isMigState, isStateSupported, isValidFlagSet } from '../fsm/index.js';
import type { BlackoutDevice } from '../estimators/types.js';
import type { DeviceSnapshot } from './types.js';

/** A device whose MIG_DATA_SIZE query succeeded: a blackout device as it is. */
export type SizedDevice = DeviceSnapshot & BlackoutDevice;

/** PRE_COPY or PRE_COPY_P2P: a data fd is open and `VFIO_MIG_GET_PRECOPY_INFO` answers. */
export function isPrecopyState(state: MigState): boolean {
  return state === MigState.PRE_COPY || state === MigState.PRE_COPY_P2P;
}

/**
 * A state a migration source can switch over from. ERROR needs a reset; RESUMING is a
 * destination; a state the flags lack cannot be real (`state_flags_table` in
 * `drivers/vfio/vfio_main.c`).
 */
export function isSourceState(d: DeviceSnapshot): boolean {
  return (
    isMigState(d.state) &&
    d.state !== MigState.ERROR &&
    d.state !== MigState.RESUMING &&
    isValidFlagSet(d.flags) &&
    isStateSupported(d.state, d.flags)
  );
}

export function isInError(d: DeviceSnapshot): boolean {
  return d.state === MigState.ERROR;
}

export function isUnknownState(d: DeviceSnapshot): boolean {
  return d.state !== MigState.ERROR && !isSourceState(d);
}

/** The MIG_DATA_SIZE query failed (`null`) or answered something that is not a size. */
export function sizeFailed(d: DeviceSnapshot): boolean {
  return !(d.stopCopyBytes !== null && d.stopCopyBytes >= 0 && d.stopCopyBytes !== Infinity);
}

/** True when every MIG_DATA_SIZE query succeeded. */
export function sizesKnown(devices: readonly DeviceSnapshot[]): devices is readonly SizedDevice[] {
  for (let i = 0; i < devices.length; i++) if (sizeFailed(devices[i]!)) return false;
  return true;
}

/** Ids of the devices passing `test` (abort paths only: it allocates). */
export function idsWhere(devices: readonly DeviceSnapshot[], test: (d: DeviceSnapshot) => boolean): string[] {
  const ids: string[] = [];
  for (const d of devices) if (test(d)) ids.push(d.id);
  return ids;
}

/** Σ `initial_bytes` of devices in a PRE_COPY state. */
export function pendingInitialBytes(devices: readonly DeviceSnapshot[]): number {
  let sum = 0;
  for (let i = 0; i < devices.length; i++) {
    const d = devices[i]!;
    if (isPrecopyState(d.state) && d.initialBytes !== undefined && d.initialBytes > 0) sum += d.initialBytes;
  }
  return sum;
}

/**
 * The part of a device's MIG_DATA_SIZE that pre-copy can still send, bytes: `initial_bytes +
 * dirty_bytes`, which `stop_copy_length` already includes (QEMU fix "Fixes: eda7362af959",
 * Avihai Horon, qemu-devel 2024-10-20), capped at that size. A figure that is not a size
 * (negative, NaN) counts as 0: unknown pending data earns no credit.
 */
export function precopyPendingBytes(d: SizedDevice): number {
  if (!isPrecopyState(d.state)) return 0;
  const pending = positiveOrZero(d.initialBytes) + positiveOrZero(d.dirtyBytes);
  return Math.min(pending, d.stopCopyBytes);
}

/** The device as the blackout will see it once its pre-copy data is sent ({@link precopyPendingBytes}). */
export function withoutPrecopyPending(d: SizedDevice): BlackoutDevice {
  return { id: d.id, model: d.model, state: d.state, flags: d.flags, stopCopyBytes: d.stopCopyBytes - precopyPendingBytes(d) };
}

/** `x` when it is > 0, else 0 (also for `undefined` and NaN, which `Math.max(0, NaN)` would pass on). */
function positiveOrZero(x: number | undefined): number {
  return x !== undefined && x > 0 ? x : 0;
}
