/**
 * The switchover lever of `vfio-sla watch --drive`: QEMU's `downtime-limit`, held too low for
 * QEMU's own rule to switch over, then raised when the governor commits — the lever Nova and
 * KubeVirt use (switchover-today.md §4.2, §4.3: KubeVirt sets the limit to 2 000 000 ms to make
 * QEMU switch a VFIO VM over), and that libvirt exposes as `migrate-setmaxdowntime`.
 *
 * QEMU switches over when `pending < threshold` (QEMU ≤ 10.0; `pending ≤ threshold` after the
 * June 2025 rewrite) or when nothing is pending, with `threshold = bandwidth × downtime-limit`
 * (`migration_iteration_run()`, `migration_update_counters()` in `migration/migration.c`; §1.1–1.2).
 *
 * Holding. The limit is set to 1 ms, not 0: with a threshold of 0, RAM's `state_pending` never
 * runs its exact bitmap sync (it syncs only when `remaining < threshold`), so once a pass has
 * sent every dirty page `pending` reads 0 and QEMU switches over regardless. At 1 ms QEMU syncs
 * when a pass ends and holds while what the guest dirtied since the last sync is at least
 * 1 ms of pre-copy bandwidth (134 KB at the default 128 MiB/s `max-bandwidth`). The hold leaks
 * below that: a guest (and its VFIO devices) dirtying less than that between two syncs is let
 * through by QEMU — when the RAM part of the blackout is well under a millisecond anyway. QEMU
 * 8.2+ has `avail-switchover-bandwidth` (bytes/s, used only for the threshold): holding also sets
 * it to 1000 B/s, a threshold of 1 byte, so only a guest that dirtied nothing gets through.
 *
 * Releasing. The limit is raised so that QEMU's rule fires at its next check with margin: the
 * larger of the deadline and twice (RAM remaining + one second of dirtying) / QEMU's pre-copy
 * bandwidth (`ram.mbps` of the poll the decision was made on), capped at QEMU's maximum; when
 * QEMU reports no bandwidth, its maximum (QEMU's threshold is then 0 whatever the limit, and it
 * switches once nothing is pending). The limit gates the decision only: QEMU lifts the rate
 * limit for the switchover itself (§1.2), so a high limit does not lengthen the blackout.
 */
import { QEMU_MAX_DOWNTIME_LIMIT_MS, QEMU_DEFAULT_DOWNTIME_LIMIT_MS } from '../../facts/qemu.js';
import type { QmpClient } from '../../qemu/qmp-client.js';
import { mbpsToBytesPerS } from '../../qemu/qmp-records.js';
import type { QmpRamStats } from '../../qemu/qmp-types.js';

/** `downtime-limit` while holding, ms; see the module comment for why not 0. */
export const HOLD_DOWNTIME_LIMIT_MS = 1;

/** `avail-switchover-bandwidth` while holding (8.2+), bytes/s: a 1-byte threshold at 1 ms. */
export const HOLD_SWITCHOVER_BANDWIDTH_BYTES_PER_S = 1000;

/** Dirtying the release limit allows for beyond RAM remaining, ms (QEMU may sync once more first). */
const RELEASE_DIRTY_ALLOWANCE_MS = 1000;

/** Margin of the release limit over the pending bytes it must let through. */
const RELEASE_MARGIN = 2;

/**
 * The `downtime-limit` that lets QEMU switch over at its next check, ms (integer, as QAPI
 * wants): see the module comment. `devicePendingBytes`: what the VFIO devices add to QEMU's pending.
 */
export function releaseDowntimeLimitMs(ram: QmpRamStats, dirtyBytesPerS: number, deadlineMs: number, devicePendingBytes = 0): number {
  const bandwidthBytesPerMs = mbpsToBytesPerS(ram.mbps ?? 0) / 1000;
  if (!(bandwidthBytesPerMs > 0)) return QEMU_MAX_DOWNTIME_LIMIT_MS;
  // QEMU's pending counts the VFIO devices too (`vfio_state_pending_exact()`: stop-copy + pre-copy sizes).
  const pendingBytes = ram.remainingBytes + devicePendingBytes + (dirtyBytesPerS * RELEASE_DIRTY_ALLOWANCE_MS) / 1000;
  const neededMs = (RELEASE_MARGIN * pendingBytes) / bandwidthBytesPerMs;
  return Math.min(QEMU_MAX_DOWNTIME_LIMIT_MS, Math.max(1, Math.ceil(Math.max(deadlineMs, neededMs))));
}

/** What the lever changed, for the timeline. */
export interface LimitChange {
  readonly downtimeLimitMs: number;
  readonly previousMs: number;
  /** 8.2+: `avail-switchover-bandwidth` set with it, bytes/s. */
  readonly switchoverBandwidthBytesPerS?: number;
}

/** `downtime-limit` (and 8.2+ `avail-switchover-bandwidth`) as a switchover lever; see the module comment. */
export class DowntimeLever {
  private currentMs: number;
  private holding = false;

  private constructor(
    private readonly qmp: QmpClient,
    /** The operator's `downtime-limit` when `watch` attached, ms. */
    readonly originalLimitMs: number,
    /** The operator's `avail-switchover-bandwidth`; undefined when this QEMU (< 8.2) has none. */
    readonly originalSwitchoverBandwidth: number | undefined,
    /** `multifd-channels` of the same reply (used only with the `multifd` capability); undefined when absent. */
    readonly multifdChannels: number | undefined = undefined,
  ) {
    this.currentMs = originalLimitMs;
  }

  /** Reads the current parameters (the recorder logs the reply) without changing anything. */
  static async attach(qmp: QmpClient): Promise<DowntimeLever> {
    const p = await qmp.queryMigrateParameters();
    const limit = p['downtime-limit'];
    const avail = p['avail-switchover-bandwidth'];
    const channels = p['multifd-channels'];
    return new DowntimeLever(
      qmp,
      typeof limit === 'number' ? limit : QEMU_DEFAULT_DOWNTIME_LIMIT_MS,
      typeof avail === 'number' ? avail : undefined,
      typeof channels === 'number' ? channels : undefined,
    );
  }

  /** The limit as last set, ms. */
  get downtimeLimitMs(): number {
    return this.currentMs;
  }

  get held(): boolean {
    return this.holding;
  }

  /** Sets the hold. */
  async hold(): Promise<LimitChange> {
    const change = await this.set(HOLD_DOWNTIME_LIMIT_MS, HOLD_SWITCHOVER_BANDWIDTH_BYTES_PER_S);
    this.holding = true;
    return change;
  }

  /**
   * Raises the limit to `limitMs` — from the hold (giving QEMU 8.2+ its own bandwidth estimate
   * back), or above the last release; undefined when that would not raise it.
   */
  async release(limitMs: number): Promise<LimitChange | undefined> {
    if (!this.holding && limitMs <= this.currentMs) return undefined;
    const change = await this.set(limitMs, this.holding ? this.originalSwitchoverBandwidth : undefined);
    this.holding = false;
    return change;
  }

  /** Puts the operator's values back (after the migration, or when `watch` stops steering). */
  async restore(): Promise<LimitChange | undefined> {
    if (!this.holding && this.currentMs === this.originalLimitMs) return undefined;
    const change = await this.set(this.originalLimitMs, this.originalSwitchoverBandwidth);
    this.holding = false;
    return change;
  }

  /** Sets `downtime-limit`, with `avail-switchover-bandwidth` when given and this QEMU has it. */
  private async set(limitMs: number, availBytesPerS: number | undefined): Promise<LimitChange> {
    const avail = this.originalSwitchoverBandwidth === undefined ? undefined : availBytesPerS;
    await this.qmp.migrateSetParameters(avail === undefined ? { 'downtime-limit': limitMs } : { 'downtime-limit': limitMs, 'avail-switchover-bandwidth': avail });
    const change = { downtimeLimitMs: limitMs, previousMs: this.currentMs };
    this.currentMs = limitMs;
    return avail === undefined ? change : { ...change, switchoverBandwidthBytesPerS: avail };
  }
}
