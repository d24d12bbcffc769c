/**
 * Devices whose driver has no PRE_COPY (`VFIO_MIGRATION_PRE_COPY` unset: `pds-vfio-pci`,
 * `xe-vfio-pci`, `vfio_ap`, see `sim/profiles-stop-copy-only.ts`) send their whole state inside
 * the blackout; no amount of pre-copy or throttling shrinks it. When one of them alone — no RAM,
 * no other device, a guest that dirties nothing — already breaks the limit, that device is why
 * the deadline is out of reach, and the decision names it.
 */
import { MigFlags } from '../fsm/index.js';
import { predictBlackout, type CompiledModel } from '../estimators/predict.js';
import { arcPlacement, stackKey } from '../estimators/stack.js';
import type { BlackoutDevice } from '../estimators/types.js';

/** What the VMM reports that changes a device's blackout alone: its QEMU and where device state goes. */
export interface CulpritStack {
  /** Source QEMU version: its calibration group, and before 8.2 STOP_COPY → STOP inside the blackout (`estimators/stack.ts`). */
  readonly qemuVersion?: string | undefined;
  /** Device state over multifd (QEMU ≥ 10.0): the load overlaps the transfer. */
  readonly deviceStateMultifd?: boolean | undefined;
}

/**
 * Ids of devices without PRE_COPY whose blackout alone exceeds `limitMs` (abort path only: it
 * allocates). The device alone is predicted on the same stack as the whole VM: a QEMU before
 * 8.2 counts its STOP_COPY → STOP too.
 */
export function stopCopyOnlyCulprits(model: CompiledModel, devices: readonly BlackoutDevice[], link: string, alpha: number, limitMs: number, on: CulpritStack = {}): string[] {
  const ids: string[] = [];
  const version = on.qemuVersion;
  const inside = version !== undefined && arcPlacement(version).stopCopyToStop === 'inside';
  for (const d of devices) {
    if ((d.flags & MigFlags.PRE_COPY) !== 0) continue;
    const stack = version === undefined ? {} : { stack: stackKey(version, [d.model]), ...(inside ? { stopCopyToStopInBlackout: true } : {}) };
    const alone = predictBlackout(model, { devices: [d], ramRemainingBytes: 0, ramDirtyBytesPerS: 0, link, ...stack, deviceStateMultifd: on.deviceStateMultifd }, alpha);
    if (alone.missing.length === 0 && alone.boundMs > limitMs) ids.push(d.id);
  }
  return ids;
}
