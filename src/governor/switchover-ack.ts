/**
 * What QEMU's switchover-ack adds to the wait: the source may not stop the VM until the
 * destination has loaded every VFIO device's pre-copy initial bytes and acked
 * (`docs/devel/migration/vfio.rst`, "switchover-ack"; `migration_can_switchover()`,
 * switchover-today.md §1.1). The load is the cost the ack moves out of the blackout: 1480 ms of
 * 1900 ms for an mlx5 VF with 300 MB of state (Avihai Horon, qemu-devel 2023-05-01,
 * published-numbers.md §7.2).
 */
import { predictBlackout, type CompiledModel } from '../estimators/predict.js';
import type { BlackoutDevice } from '../estimators/types.js';
import { isPrecopyState } from './snapshot-devices.js';
import type { DeviceSnapshot, VmSnapshot } from './types.js';

/**
 * True when the source must still wait for an ack: the VMM reports it pending, or it reports it
 * received while a device has just re-initialised its pre-copy data (`VFIO_PRECOPY_INFO_REINIT`):
 * the destination acked initial data that is no longer all of it, and QEMU asks again (QEMU
 * "vfio/migration: Check VFIO_PRECOPY_INFO_REINIT during switchover", "migration: Make
 * switchover-ack re-usable"). Absent (older QEMU) = not required.
 */
export function ackPending(s: VmSnapshot): boolean {
  if (s.switchoverAck === 'pending') return true;
  if (s.switchoverAck !== 'received') return false;
  for (let i = 0; i < s.devices.length; i++) if (s.devices[i]!.reinit === true) return true;
  return false;
}

/**
 * Median time until the destination can ack, ms: the pending initial bytes sent at the pre-copy
 * rate, then loaded by the destination (the model's destination RESUMING load chain at that
 * size; devices in parallel, or one after another when `serial`). With no initial bytes left the
 * destination is still loading what it got: the chain's fixed part is the least that takes. A
 * device known only from QEMU's one request has no load chain (`compile.ts` `resumeInOneRequest`:
 * its load runs at the VM's start), so its wait is the send time alone.
 * Infinity when initial bytes are pending and nothing is being sent.
 */
export function ackWaitMs(model: CompiledModel, s: VmSnapshot, devices: readonly DeviceSnapshot[], link: string, serial: boolean, alpha: number): number {
  let initialBytes = 0;
  const loading: BlackoutDevice[] = [];
  for (const d of devices) {
    const bytes = isPrecopyState(d.state) && d.initialBytes !== undefined && d.initialBytes > 0 ? d.initialBytes : 0;
    initialBytes += bytes;
    loading.push({ id: d.id, model: d.model, state: d.state, flags: d.flags, stopCopyBytes: bytes });
  }
  const sendMs = initialBytes === 0 ? 0 : s.precopyBandwidthBytesPerS > 0 ? (initialBytes / s.precopyBandwidthBytesPerS) * 1000 : Infinity;
  // Only the dest-load parts are read: the query's RAM and link do not enter them.
  const parts = predictBlackout(model, { devices: loading, ramRemainingBytes: 0, link, serial }, alpha).parts;
  const perDevice = new Map<string, number>();
  for (const p of parts) {
    if (p.kind === 'dest-load' && p.deviceId !== undefined) perDevice.set(p.deviceId, (perDevice.get(p.deviceId) ?? 0) + p.medianMs);
  }
  let loadMs = 0;
  for (const ms of perDevice.values()) loadMs = serial ? loadMs + ms : Math.max(loadMs, ms);
  return sendMs + loadMs;
}
