/**
 * The stack fields of a blackout query from a snapshot's `qemuVersion` (`estimators/stack.ts`):
 * its calibration group and, before QEMU 8.2, the devices' STOP_COPY → STOP inside the blackout.
 * Nothing without a version: the pooled calibration and current QEMU's placement, as before.
 */
import { arcPlacement, stackKey } from '../estimators/stack.js';
import type { BlackoutDevice } from '../estimators/types.js';
import type { VmSnapshot } from './types.js';

const NO_STACK: { readonly stack?: string; readonly stopCopyToStopInBlackout?: boolean } = Object.freeze({});

/** `{ stack, stopCopyToStopInBlackout? }` for a snapshot that names its QEMU, else `{}` (no allocation: the hot path). */
export function stackOfSnapshot(
  snapshot: VmSnapshot,
  devices: readonly BlackoutDevice[],
): { readonly stack?: string; readonly stopCopyToStopInBlackout?: boolean } {
  return stackOfVersion(snapshot.qemuVersion, devices);
}

/** The same for a source QEMU `version` (undefined: `{}`). */
export function stackOfVersion(
  version: string | undefined,
  devices: readonly BlackoutDevice[],
): { readonly stack?: string; readonly stopCopyToStopInBlackout?: boolean } {
  if (version === undefined) return NO_STACK;
  const stack = stackKey(version, devices.map((d) => d.model));
  return arcPlacement(version).stopCopyToStop === 'inside' ? { stack, stopCopyToStopInBlackout: true } : { stack };
}
