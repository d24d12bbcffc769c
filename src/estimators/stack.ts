/**
 * What a migration's stack (`StackRecord`: QEMU's version on each side) changes in the meaning
 * of its records — pure rules over the facts of `facts/qemu.ts`:
 * - **which arcs ran inside the blackout**: the source's `STOP_COPY → STOP` is inside it before
 *   QEMU 8.2 and after it since ({@link QEMU_STOP_COPY_TO_STOP_AFTER_BLACKOUT_SINCE}); the
 *   destination's `STOP → RESUMING` always precedes it (`vfio_load_setup()`). A migration whose
 *   version is unknown is placed as current QEMU places it, and says it assumed so.
 * - **what a VFIO pending size meant**: before the `vfio_state_pending_exact()` fix
 *   ({@link QEMU_PENDING_EXACT_FIXED_IN}) QEMU counted pre-copy bytes twice in the size its
 *   switchover rule compared, so it switched at other sizes — such migrations are not
 *   exchangeable with newer ones, and their stack key says so ({@link stackKey}).
 */
import { QEMU_PENDING_EXACT_FIXED_IN, QEMU_STOP_COPY_TO_STOP_AFTER_BLACKOUT_SINCE, type QemuRelease } from '../facts/qemu.js';

/** `"10.0.2"` → `[10, 0, 2]`; undefined for anything else. */
export function parseQemuRelease(version: string | undefined): QemuRelease | undefined {
  const m = version === undefined ? null : /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  return m === null ? undefined : [Number(m[1]), Number(m[2]), Number(m[3])];
}

function compare(a: QemuRelease, b: QemuRelease): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** Where a migration's source `STOP_COPY → STOP` ran, and whether its QEMU version said so. */
export interface ArcPlacement {
  readonly stopCopyToStop: 'inside' | 'outside';
  /** True when the version was unknown and the current placement (outside) was assumed. */
  readonly assumed: boolean;
}

/** The placement of the source's `STOP_COPY → STOP` for a source QEMU `version` (see the module comment). */
export function arcPlacement(version: string | undefined): ArcPlacement {
  const v = parseQemuRelease(version);
  if (v === undefined) return { stopCopyToStop: 'outside', assumed: true };
  return { stopCopyToStop: compare(v, QEMU_STOP_COPY_TO_STOP_AFTER_BLACKOUT_SINCE) >= 0 ? 'outside' : 'inside', assumed: false };
}

/** Whether `version` counted pre-copy bytes twice in its VFIO pending size; undefined when unknown. */
export function pendingCountsPrecopyTwice(version: string | undefined): boolean | undefined {
  const v = parseQemuRelease(version);
  if (v === undefined) return undefined;
  const line = QEMU_PENDING_EXACT_FIXED_IN.find((f) => f[0] === v[0] && f[1] === v[1]);
  if (line !== undefined) return compare(v, line) < 0;
  const last = QEMU_PENDING_EXACT_FIXED_IN[QEMU_PENDING_EXACT_FIXED_IN.length - 1] as QemuRelease;
  return compare(v, last) < 0;
}

/** The stack key of a migration whose QEMU version is not known. */
export const UNKNOWN_STACK = 'qemu?';

/**
 * The key calibration groups migrations by: the source QEMU's major version — with `-pending2x`
 * when that release counted pre-copy bytes twice, since its switchover happened at other sizes —
 * and the device models (their VFIO drivers), sorted: `qemu10/mlx5-cx7+qat-vf`, `qemu9-pending2x/mtty`,
 * `qemu?/none`.
 */
export function stackKey(qemuVersion: string | undefined, deviceModels: Iterable<string>): string {
  const v = parseQemuRelease(qemuVersion);
  const qemu = v === undefined ? UNKNOWN_STACK : `qemu${v[0]}${pendingCountsPrecopyTwice(qemuVersion) === true ? '-pending2x' : ''}`;
  const models = [...new Set(deviceModels)].sort();
  return `${qemu}/${models.length === 0 ? 'none' : models.join('+')}`;
}
