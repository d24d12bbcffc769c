/**
 * A `query-migrate` poll as the governor's {@link VmSnapshot}: what `vfio-sla watch` hands to
 * `decide()` at every poll. The figures are mapped exactly as the QMP importer's `ram` records
 * map them (`qmp-records.ts`), because the fitted model and its calibration are scored on those
 * records: RAM remaining = `ram.remaining`, dirty rate = `ram.dirty-pages-rate` × `page-size`,
 * pre-copy bandwidth = `ram.mbps` (Mbit/s), elapsed = `total-time`.
 *
 * One thing the records do not say is whether QEMU has measured the dirty rate yet. QEMU 7.2
 * computes `dirty-pages-rate` in `migration_bitmap_sync()` (`migration/ram.c`) only at the first
 * bitmap sync that ends more than 1000 ms after the previous measurement period began (the
 * period starts with the setup sync); until then it reports 0. During the first pass `remaining`
 * also counts pages never sent, while what the guest dirtied meanwhile sits in the dirty log until
 * the next sync. A "0 B/s" dirty rate then is unknown, not zero, and a commit made on it would be
 * blind — so {@link SnapshotTracker} reports such polls as not ready (design.md, "Governor": no
 * blind commits).
 *
 * No devices: QMP reports no VFIO stop-copy size or remaining bytes (`vfio.transferred` only;
 * switchover-today.md §2.1), so the snapshot covers guest RAM and the model's fixed costs.
 */
import type { VmSnapshot } from '../../governor/types.js';
import { keepPassStart } from '../../estimators/precopy-plateau.js';
import { QEMU_THROTTLE_TRIGGER } from '../../facts/qemu.js';
import { dirtyBytesPerS, mbpsToBytesPerS } from '../../qemu/qmp-records.js';
import type { QmpPoll, QmpRamStats } from '../../qemu/qmp-types.js';
import type { PollFigures } from './watch-types.js';

/**
 * QEMU's dirty-rate measurement period, ms: `migration_bitmap_sync()` updates `dirty-pages-rate`
 * only when `end_time > time_last_bitmap_sync + 1000` (`migration/ram.c`) — the same branch that
 * runs the throttle trigger, hence the same constant.
 */
export const QEMU_DIRTY_RATE_PERIOD_MS = QEMU_THROTTLE_TRIGGER.periodMs;

/** Why a poll gives no snapshot. */
export type NotReadyReason =
  /** Not `active`: setup, switchover in progress (`device`), post-copy, ended. */
  | 'NOT_PRECOPY'
  /** An `active` reply without `ram` statistics. */
  | 'NO_STATISTICS'
  /** QEMU has not published a dirty rate yet (first pass, or no sync since the first 1000 ms). */
  | 'DIRTY_RATE_UNMEASURED';

/** A poll's snapshot, or why there is none. */
export type SnapshotResult =
  | { readonly ready: true; readonly snapshot: VmSnapshot; readonly ram: QmpRamStats }
  | { readonly ready: false; readonly reason: NotReadyReason };

/**
 * The snapshot of one `active` poll with statistics (no readiness check; see
 * {@link SnapshotTracker}). `elapsedMs` is QEMU's `total-time` (time since `migrate`), falling
 * back to `elapsedFallbackMs` for replies without it.
 */
export function qmpSnapshot(ram: QmpRamStats, totalTimeMs: number | undefined, elapsedFallbackMs: number, passStartBytes?: readonly number[]): VmSnapshot {
  return {
    devices: [],
    ramRemainingBytes: ram.remainingBytes,
    ramDirtyBytesPerS: dirtyBytesPerS(ram),
    precopyBandwidthBytesPerS: mbpsToBytesPerS(ram.mbps ?? 0),
    elapsedMs: Math.max(0, totalTimeMs ?? elapsedFallbackMs),
    ...(passStartBytes === undefined ? {} : { ramPassStartBytes: passStartBytes }),
  };
}

/**
 * Follows one migration's polls and says, for each, whether it can be decided on: `active`, with
 * statistics, and with a measured dirty rate — a non-zero `dirty-pages-rate`, or two bitmap syncs
 * (`dirty-sync-count` + 2) after a poll taken {@link QEMU_DIRTY_RATE_PERIOD_MS} past the end of
 * setup (QEMU's first period is then over and its rate published, so a 0 it reports is a real 0).
 */
export class SnapshotTracker {
  /** `dirty-sync-count` at the first poll past the first period; undefined until then. */
  private syncsAfterFirstPeriod: number | undefined;
  private measured = false;
  private readonly firstAtMs: number;
  /** `dirty-sync-count` of the last poll that had one. */
  private lastPass: number | undefined;
  /** `ram.remaining` at the first poll of each pass after the first seen, oldest first. */
  private passStarts: readonly number[] = [];

  /** @param firstPollAtMs host time of the migration's first poll (fallback clock for `total-time`). */
  constructor(firstPollAtMs: number) {
    this.firstAtMs = firstPollAtMs;
  }

  /** Whether QEMU has published a dirty rate for this migration. */
  get dirtyRateMeasured(): boolean {
    return this.measured;
  }

  /** Feeds the next poll (in order) and returns its snapshot or why it has none. */
  observe(poll: QmpPoll): SnapshotResult {
    const ram = poll.ram;
    if (ram !== undefined) {
      this.track(poll, ram);
      this.trackPasses(ram);
    }
    if (poll.status !== 'active') return { ready: false, reason: 'NOT_PRECOPY' };
    if (ram === undefined) return { ready: false, reason: 'NO_STATISTICS' };
    if (!this.measured) return { ready: false, reason: 'DIRTY_RATE_UNMEASURED' };
    return { ready: true, snapshot: qmpSnapshot(ram, poll.totalTimeMs, poll.atMs - this.firstAtMs, this.passStarts), ram };
  }

  /**
   * A new `dirty-sync-count` starts a pass: QEMU counts the sync as it begins
   * (`stat64_add(&mig_stats.dirty_sync_count, 1)` first thing in `migration_bitmap_sync()`,
   * `migration/ram.c`) and `remaining` (`ram_bytes_remaining()`) then holds the pages it found
   * dirty, so the first poll of a pass shows what the pass starts with — as the importer's `ram`
   * records and the evaluation (`precopyTimePoints`) read it. The first pass seen is skipped (it
   * may be the whole RAM, or joined midway). A periodic background sync (proposed upstream with
   * a separate `iteration_count` for passes) would count here too.
   */
  private trackPasses(ram: QmpRamStats): void {
    const pass = ram.dirtySyncCount;
    if (pass === undefined || pass === this.lastPass) return;
    if (this.lastPass !== undefined) this.passStarts = keepPassStart(this.passStarts, ram.remainingBytes);
    this.lastPass = pass;
  }

  private track(poll: QmpPoll, ram: QmpRamStats): void {
    if (this.measured) return;
    if ((ram.dirtyPagesPerS ?? 0) > 0) {
      this.measured = true;
      return;
    }
    const syncs = ram.dirtySyncCount;
    if (syncs === undefined) return;
    if (this.syncsAfterFirstPeriod !== undefined) {
      // Two syncs on: the first of them began after the period and has ended (QEMU counts a sync,
      // and emits MIGRATION_PASS, when it begins, and publishes the rate when it ends).
      if (syncs >= this.syncsAfterFirstPeriod + 2) this.measured = true;
      return;
    }
    const iteratingMs = (poll.totalTimeMs ?? poll.atMs - this.firstAtMs) - (poll.setupTimeMs ?? 0);
    if (iteratingMs >= QEMU_DIRTY_RATE_PERIOD_MS) this.syncsAfterFirstPeriod = syncs;
  }
}

/** A poll's RAM figures as its `ram` record has them; null where QEMU gave none. */
export function pollFigures(poll: QmpPoll): PollFigures {
  const ram = poll.ram;
  return {
    atMs: poll.atMs,
    status: poll.status,
    pass: ram?.dirtySyncCount ?? null,
    remainingBytes: ram?.remainingBytes ?? null,
    dirtyBytesPerS: ram === undefined ? null : dirtyBytesPerS(ram),
    bandwidthBytesPerS: ram?.mbps === undefined ? null : mbpsToBytesPerS(ram.mbps),
    cpuThrottlePercent: poll.cpuThrottlePercent ?? null,
  };
}
