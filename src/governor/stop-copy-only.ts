/**
 * Devices whose driver has no PRE_COPY (`VFIO_MIGRATION_PRE_COPY` unset: `pds-vfio-pci`,
 * `xe-vfio-pci`, `vfio_ap`, see `sim/profiles-stop-copy-only.ts`) send their whole state inside
 * the blackout; no amount of pre-copy or throttling shrinks it. When one of them alone — no RAM,
 * no other device, a guest that dirties nothing — already breaks the limit, that device is why
 * the deadline is out of reach, and the decision names it.
 */
import { MigFlags } from '../fsm/index.js';
import { predictBlackout, type CompiledModel } from '../estimators/predict.js';
import type { BlackoutDevice } from '../estimators/types.js';

/** Ids of devices without PRE_COPY whose blackout alone exceeds `limitMs` (abort path only: it allocates). */
export function stopCopyOnlyCulprits(model: CompiledModel, devices: readonly BlackoutDevice[], link: string, alpha: number, limitMs: number): string[] {
  const ids: string[] = [];
  for (const d of devices) {
    if ((d.flags & MigFlags.PRE_COPY) !== 0) continue;
    const alone = predictBlackout(model, { devices: [d], ramRemainingBytes: 0, ramDirtyBytesPerS: 0, link }, alpha);
    if (alone.missing.length === 0 && alone.boundMs > limitMs) ids.push(d.id);
  }
  return ids;
}
