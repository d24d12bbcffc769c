/**
 * QEMU's switchover test, as `migration_iteration_run` evaluates it every `BUFFER_DELAY` window
 * (ST §1.1–1.3; `qemu/qemu: migration/migration.c`, `migration/ram.c`, `hw/vfio/migration.c`):
 *
 *   threshold = bandwidth × downtime-limit   (bandwidth: `avail-switchover-bandwidth` if set,
 *                                             else bytes sent in the last 100 ms window)
 *   estimate  = RAM dirty pages + Σ PRE_COPY devices' cached (initial + dirty); a device not in
 *               PRE_COPY adds 0 — its state is invisible here
 *   if estimate < threshold: exact = (bitmap sync) RAM + Σ every device's MIG_DATA_SIZE
 *               (`stop_copy_length`, which already holds pending pre-copy data, Horon's 2024 fix;
 *               a failed query counts 100 GiB)
 *   complete when exact ≤ threshold and `can_switchover` (switchover-ack received)
 *
 * The modelled downtime is bytes ÷ pre-copy bandwidth only: no vCPU stop, no device arcs, no
 * destination load, no fixed costs (ST §1.4, Joao Martins' "precopy-ram-downtime-limit").
 */
import type { MigrationWorld } from '../fleet/migration-world.js';
import { QEMU_FAILED_SIZE_QUERY_BYTES } from '../fleet/constants.js';

/** One evaluation of QEMU's test. */
export interface QemuCheck {
  readonly complete: boolean;
  /** Whether the exact path (bitmap sync + MIG_DATA_SIZE) ran. */
  readonly exact: boolean;
  readonly pendingBytes: number;
  readonly thresholdBytes: number;
  /** QEMU's `expected-downtime`: RAM dirty at the last sync ÷ the switchover bandwidth, ms. */
  readonly expectedDowntimeMs: number;
  /** MIG_DATA_SIZE per device on the exact path (`null`: the query failed), in device order. */
  readonly deviceSizes: readonly (number | null)[];
}

const NO_SIZES: readonly (number | null)[] = Object.freeze([]);

/** QEMU's bandwidth for the threshold: `avail-switchover-bandwidth` when set, else the window's rate (bytes/s). */
export function qemuSwitchoverBandwidth(world: MigrationWorld): number {
  const avail = world.spec.availSwitchoverBytesPerS;
  return avail > 0 ? avail : world.windowBytesPerS;
}

/** Evaluates QEMU's completion test with `downtimeLimitMs`; may run the exact path (a RAM sync). */
export async function qemuCompletionCheck(world: MigrationWorld, downtimeLimitMs: number): Promise<QemuCheck> {
  const bandwidth = qemuSwitchoverBandwidth(world);
  const thresholdBytes = (bandwidth / 1000) * downtimeLimitMs;
  let estimate = world.ram.remainingBytes;
  for (const p of world.pairs) if (p.inPrecopy) estimate += p.pendingInitialBytes + p.pendingDirtyBytes;
  if (!(estimate < thresholdBytes)) {
    return { complete: false, exact: false, pendingBytes: estimate, thresholdBytes, expectedDowntimeMs: expected(world, bandwidth), deviceSizes: NO_SIZES };
  }
  world.exactSync();
  let pending = world.ram.remainingBytes;
  const deviceSizes: (number | null)[] = [];
  for (const p of world.pairs) {
    let size: number | null;
    try {
      size = await p.src.stopCopyBytes();
    } catch {
      size = null;
    }
    deviceSizes.push(size);
    pending += size ?? QEMU_FAILED_SIZE_QUERY_BYTES;
  }
  const complete = pending <= thresholdBytes && world.canSwitchover;
  return { complete, exact: true, pendingBytes: pending, thresholdBytes, expectedDowntimeMs: expected(world, bandwidth), deviceSizes };
}

function expected(world: MigrationWorld, bandwidth: number): number {
  const remaining = world.ram.remainingBytes;
  if (remaining <= 0) return 0;
  return bandwidth > 0 ? (remaining / bandwidth) * 1000 : Infinity;
}
