/**
 * Asking the devices what `decide()` needs, as QEMU's `vfio_state_pending_exact()` does
 * (`hw/vfio/migration.c`): MIG_DEVICE_STATE GET, MIG_DATA_SIZE in any state, and
 * `VFIO_MIG_GET_PRECOPY_INFO` in PRE_COPY states. Every size learned is recorded, so the
 * estimators see what was known at the decision.
 */
import type { MigrationDevice, PrecopyInfo } from '../device/index.js';
import type { RecordSink, SizeRecord } from '../records/records.js';
import { isPrecopyState } from './snapshot-devices.js';
import type { DeviceSnapshot } from './types.js';

/** Where probes are recorded. */
export interface ProbeRecorder {
  readonly sink: RecordSink;
  readonly migrationId: string;
}

/**
 * Snapshots of `devices` at `atMs`. A failed MIG_DATA_SIZE becomes `stopCopyBytes: null` (never a
 * blind commit); a failed PRECOPY_INFO, or one answering no sizes (NaN, negative), leaves the
 * pre-copy fields out.
 */
export async function probeDevices(
  devices: readonly MigrationDevice[],
  atMs: number,
  rec: ProbeRecorder,
): Promise<DeviceSnapshot[]> {
  return Promise.all(devices.map((device) => probeDevice(device, atMs, rec)));
}

async function probeDevice(device: MigrationDevice, atMs: number, rec: ProbeRecorder): Promise<DeviceSnapshot> {
  const state = device.getState();
  let stopCopyBytes: number | null = null;
  try {
    stopCopyBytes = await device.stopCopyBytes();
  } catch {
    // QEMU assumes 100 GiB here; `decide()` refuses to commit on null.
  }
  let info: PrecopyInfo | null = null;
  if (isPrecopyState(state)) {
    try {
      const answer = await device.precopyInfo();
      // An answer that is not two sizes is no better than a failed query (and NaN must not reach the records).
      if (isByteCount(answer.initialBytes) && isByteCount(answer.dirtyBytes)) info = answer;
    } catch {
      // Without PRECOPY_INFO the initial-bytes rule cannot be applied; sizes still decide.
    }
  }
  const base = { id: device.id, model: device.model, state, flags: device.flags, stopCopyBytes };
  if (stopCopyBytes !== null && Number.isSafeInteger(stopCopyBytes) && stopCopyBytes >= 0) {
    const size: SizeRecord = { kind: 'size', migrationId: rec.migrationId, deviceId: device.id, atMs, stopCopyBytes };
    rec.sink.push(info === null ? size : { ...size, initialBytes: Math.round(info.initialBytes), dirtyBytes: Math.round(info.dirtyBytes) });
  }
  return info === null ? base : { ...base, initialBytes: info.initialBytes, dirtyBytes: info.dirtyBytes };
}

function isByteCount(x: number): boolean {
  return Number.isFinite(x) && x >= 0;
}
