/**
 * Which VFIO devices a running QEMU has, and which device model of the estimators each is.
 *
 * Read over QMP: `query-pci` (`qapi/pci.json`: every PCI function with its `id.vendor`,
 * `id.device` and `qdev_id`), then for each function with a qdev id, `qom-get` of
 * `/machine/peripheral/<id>`'s `type` (every QOM object has it; `vfio-pci` for VFIO PCI devices,
 * `hw/vfio/pci.c` `TYPE_VFIO_PCI`) and of its `sysfsdev` / `host` properties: QEMU names the
 * device (`vbasedev->name`, the name of its trace events) after the basename of `sysfsdev`
 * (an mdev UUID) or the host PCI address (`vfio_pci_realize()` → `vfio_device_get_name()`).
 * A device without a qdev id cannot be reached this way and is left to its events.
 *
 * Models: the PCI ids the estimators know ({@link PCI_DEVICE_MODELS}); any other device is
 * `pci-VVVV:DDDD`, which a model fitted on its own migrations knows, and which otherwise falls
 * back to a prior ({@link UNKNOWN_DEVICE_PRIORS}), saying so.
 */
import type { CompiledModel } from '../estimators/compile.js';
import type { MigFlags, MigState } from '../fsm/index.js';
import type { QmpClient } from './qmp-client.js';
import { isJsonObject, type JsonObject } from '../json/guards.js';

/** A VFIO device of one QEMU. */
export interface VfioDeviceInfo {
  /** qdev id (`-device …,id=`), the `device-id` of its `VFIO_MIGRATION` events. */
  readonly deviceId: string;
  readonly qomPath: string;
  /** QEMU's `vbasedev->name`, the name in its trace events (mdev UUID or host PCI address). */
  readonly name: string;
  /** PCI vendor and device id (`query-pci`). */
  readonly vendorId: number;
  readonly pciDeviceId: number;
  /** Device model key: {@link deviceModelOf}. */
  readonly model: string;
}

/**
 * PCI ids (`vendor:device`, lower-case hex) → the device models the priors and the simulator
 * know (`models/priors.json`, `src/estimators/priors.ts`). Ids from the kernel drivers that
 * bind these VFs for migration: mlx5 ConnectX VF `0x101e` (`drivers/vfio/pci/mlx5/main.c`,
 * `PCI_DEVICE_ID_MELLANOX_CONNECTX_VF` family match on `0x101e`), QAT 4xxx/401xx/402xx VFs
 * `0x4941`/`0x4943`/`0x4945` (`drivers/vfio/pci/qat/main.c`, `drivers/crypto/intel/qat/…/adf_*_hw_data.h`).
 */
export const PCI_DEVICE_MODELS: Readonly<Record<string, string>> = {
  '15b3:101e': 'mlx5-cx7',
  '8086:4941': 'qat-vf',
  '8086:4943': 'qat-vf',
  '8086:4945': 'qat-vf',
};

/** Model key of a device from its PCI ids: a known model, else `pci-vvvv:dddd`. */
export function deviceModelOf(vendorId: number, pciDeviceId: number): string {
  const key = `${hex4(vendorId)}:${hex4(pciDeviceId)}`;
  return PCI_DEVICE_MODELS[key] ?? `pci-${key}`;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/**
 * Priors an unknown device model is predicted with, in order of preference: the first whose arcs
 * cover the device's path (`models/priors.json`: `generic-nic` is a stop-copy-only VF; `qat-vf`
 * and `mlx5-cx7` have the P2P and PRE_COPY arcs, `qat-vf` with the smaller state).
 */
export const UNKNOWN_DEVICE_PRIORS: readonly string[] = ['generic-nic', 'qat-vf', 'mlx5-cx7'];

/**
 * The model key `decide()` should use for a device in `state` with `flags`: its own when the
 * fitted model covers its path ({@link covers}), else the first of {@link UNKNOWN_DEVICE_PRIORS}
 * that does; `fallback` says a prior stands in.
 */
export function decisionModelOf(model: CompiledModel, deviceModel: string, state: MigState, flags: MigFlags): { readonly model: string; readonly fallback: boolean } {
  if (covers(model, deviceModel, state, flags)) return { model: deviceModel, fallback: false };
  const prior = UNKNOWN_DEVICE_PRIORS.find((name) => covers(model, name, state, flags));
  return { model: prior ?? deviceModel, fallback: true };
}

/**
 * Whether the model has every arc of the device's source chain into STOP_COPY, its load and its
 * restart. QEMU asks the kernel for `RESUMING → RUNNING_P2P` in one request, which the kernel
 * runs as `RESUMING → STOP → RUNNING_P2P` (`vfio_mig_get_next_state()`), so a model learnt from
 * QEMU's records has no `RESUMING>STOP` load arc: its restart starts from that one request
 * instead (`estimators/compile.ts` `resumeInOneRequest`). Without the VFIO trace QEMU's events
 * time only the arcs it issues back to back, and the destination is not covered.
 */
function covers(model: CompiledModel, deviceModel: string, state: MigState, flags: MigFlags): boolean {
  const d = model.devices.get(deviceModel);
  if (d === undefined) return false;
  // The restart names the load when neither it nor the one request is known (`compile.ts`).
  return d.toStopCopy[flags * 8 + state]?.missing.length === 0 && d.restart[flags]?.missing.length === 0;
}

/** Every PCI function `query-pci` reports, bridges' buses included. */
function pciFunctions(buses: unknown): JsonObject[] {
  const out: JsonObject[] = [];
  const walk = (list: unknown): void => {
    if (!Array.isArray(list)) return;
    for (const d of list) {
      if (!isJsonObject(d)) continue;
      out.push(d);
      const bridge = d['pci_bridge'];
      if (isJsonObject(bridge)) walk(bridge['devices']);
    }
  };
  if (Array.isArray(buses)) for (const b of buses) if (isJsonObject(b)) walk(b['devices']);
  return out;
}

/** `qom-get`, or undefined when QEMU refuses (no such object or property). */
async function qomGet(qmp: QmpClient, path: string, property: string): Promise<unknown> {
  try {
    return await qmp.execute('qom-get', { path, property });
  } catch {
    return undefined; // a property this device type lacks: not an error of the watch
  }
}

/** Reads the VFIO PCI devices of a QEMU; see the module comment. */
export async function discoverVfioDevices(qmp: QmpClient): Promise<VfioDeviceInfo[]> {
  const out: VfioDeviceInfo[] = [];
  if (!(await qmp.hasCommand('query-pci'))) return out; // a machine without PCI
  for (const f of pciFunctions(await qmp.execute('query-pci'))) {
    const qdevId = f['qdev_id'];
    const id = f['id'];
    if (typeof qdevId !== 'string' || qdevId.length === 0 || !isJsonObject(id)) continue;
    const vendorId = id['vendor'];
    const pciDeviceId = id['device'];
    if (typeof vendorId !== 'number' || typeof pciDeviceId !== 'number') continue;
    const qomPath = `/machine/peripheral/${qdevId}`;
    const type = await qomGet(qmp, qomPath, 'type');
    if (typeof type !== 'string' || !type.startsWith('vfio-pci')) continue;
    const sysfsdev = await qomGet(qmp, qomPath, 'sysfsdev');
    const host = typeof sysfsdev === 'string' && sysfsdev.length > 0 ? undefined : await qomGet(qmp, qomPath, 'host');
    const name = typeof sysfsdev === 'string' && sysfsdev.length > 0 ? (sysfsdev.split('/').pop() ?? sysfsdev) : typeof host === 'string' ? host : qdevId;
    out.push({ deviceId: qdevId, qomPath, name, vendorId, pciDeviceId, model: deviceModelOf(vendorId, pciDeviceId) });
  }
  return out;
}
