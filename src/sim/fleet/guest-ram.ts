/**
 * Guest RAM during pre-copy, as QEMU's RAM migration sees it (ST §1.2–1.3, §3; PN §2): a dirty
 * bitmap whose set pages (`ram.remaining`) are sent pass after pass, while the guest dirties
 * pages at its rate. Dirtied pages are only seen at a bitmap sync (end of a pass, QEMU's "exact"
 * pending path, or the final sync after the vCPUs stop); between syncs they saturate at the
 * writable working set (re-dirtying a page adds nothing: the WWS of Clark et al., Akoush's HIST
 * correction, PN §1–2). That is the AVG round model of `estimators/precopy.ts` run in 100 ms
 * steps, plus what QEMU measures about it (bandwidth per window, dirty rate per ≥ 1 s period)
 * and auto-converge's throttle.
 */
import { keepPassStart } from '../../estimators/precopy-plateau.js';
import { AUTO_CONVERGE, DIRTY_LIMIT_FLOOR_BYTES_PER_S, PRECOPY_NOISE } from './constants.js';

/** How a {@link GuestRam} starts. */
export interface GuestRamOptions {
  readonly ramBytes: number;
  readonly nonZeroFraction: number;
  readonly dirtyBytesPerS: number;
  readonly wwsBytes: number;
  /** QEMU's auto-converge runs at syncs. */
  readonly autoConverge: boolean;
}

/** Pre-copy RAM state. Mutated by the migration world; read by policies through its views. */
export class GuestRam {
  /** QEMU `ram.remaining`: set bits of the bitmap not sent yet in this pass, bytes. */
  remainingBytes: number;
  /** Distinct bytes dirtied since the last sync (not in `remaining` yet). */
  dirtySinceSyncBytes = 0;
  /** QEMU `dirty-sync-count`: bitmap syncs so far. */
  pass = 0;
  /** QEMU `dirty-pages-rate` × page size, bytes/s: 0 until the first period is measured. */
  measuredDirtyBytesPerS = 0;
  /** Auto-converge CPU throttle, percent. */
  throttlePct = 0;
  /** The guest's own dirty rate (before any throttle), bytes/s. */
  readonly baseDirtyBytesPerS: number;
  /** Dirty-limit style cap set by a policy, bytes/s (Infinity: none). */
  dirtyLimitBytesPerS = Infinity;
  /** True until the first pass is done (it alone carries zero pages). */
  firstPass = true;
  /** Wire bytes of RAM sent so far. */
  sentBytes = 0;
  /**
   * `remaining` at the start of each pass after the first, oldest first, the last few
   * (`keepPassStart`): what `watch` reads off QEMU's polls for `decide()`'s plateau test.
   */
  passStartBytes: readonly number[] = [];

  private readonly wwsBytes: number;
  private readonly nonZeroFraction: number;
  private readonly autoConverge: boolean;
  private periodStartMs = 0;
  private periodDirtyBytes = 0;
  private periodSentBytes = 0;
  private highPeriods = 0;

  constructor(options: GuestRamOptions) {
    this.remainingBytes = options.ramBytes;
    this.baseDirtyBytesPerS = options.dirtyBytesPerS;
    this.wwsBytes = options.wwsBytes;
    this.nonZeroFraction = options.nonZeroFraction;
    this.autoConverge = options.autoConverge;
  }

  /** The rate the guest dirties pages now, bytes/s (throttles applied). */
  get dirtyBytesPerS(): number {
    const cpu = this.baseDirtyBytesPerS * (1 - this.throttlePct / 100);
    return Math.min(cpu, this.dirtyLimitBytesPerS);
  }

  /** Share of the guest's own dirtying taken away by throttles: the guest slowdown, in [0, 1]. */
  get slowdown(): number {
    return this.baseDirtyBytesPerS > 0 ? 1 - this.dirtyBytesPerS / this.baseDirtyBytesPerS : 0;
  }

  /** RAM the blackout would have to send if the vCPUs stopped now: remaining + what the final sync finds. */
  get blackoutBytes(): number {
    return this.remainingBytes + this.dirtySinceSyncBytes;
  }

  /**
   * One window of `dtMs` with `budgetBytes` of link for RAM (what devices left): sends pages,
   * lets the guest dirty, and syncs when the pass ends (at `nowMs`, the window's end).
   * Returns the wire bytes sent.
   */
  step(nowMs: number, dtMs: number, budgetBytes: number): number {
    // First pass: zero pages are scanned, not sent; each costs a fraction of a normal page's time.
    const z = this.firstPass ? this.nonZeroFraction : 1;
    const pageCost = z + (1 - z) * PRECOPY_NOISE.zeroPageCost;
    const pages = Math.min(this.remainingBytes, Math.max(0, budgetBytes) / pageCost);
    const wire = pages * z;
    this.remainingBytes -= pages;
    this.sentBytes += wire;
    this.periodSentBytes += wire;
    const room = Math.max(0, this.wwsBytes - this.dirtySinceSyncBytes);
    const dirtied = Math.min(room, (this.dirtyBytesPerS * dtMs) / 1000);
    this.dirtySinceSyncBytes += dirtied;
    this.periodDirtyBytes += dirtied;
    if (this.remainingBytes <= 0) {
      this.remainingBytes = 0;
      this.firstPass = false;
      this.sync(nowMs);
    }
    return wire;
  }

  /**
   * A bitmap sync (`migration_bitmap_sync`): pages dirtied since the last one join `remaining`;
   * at most once per ≥ 1 s period the dirty rate is measured and auto-converge decides (ST §3.2).
   */
  sync(nowMs: number): void {
    this.remainingBytes += this.dirtySinceSyncBytes;
    this.dirtySinceSyncBytes = 0;
    this.pass++;
    this.passStartBytes = keepPassStart(this.passStartBytes, this.remainingBytes);
    const periodMs = nowMs - this.periodStartMs;
    if (periodMs < AUTO_CONVERGE.periodMs) return;
    this.measuredDirtyBytesPerS = (this.periodDirtyBytes / periodMs) * 1000;
    if (this.autoConverge && this.periodDirtyBytes > this.periodSentBytes * AUTO_CONVERGE.triggerThreshold) {
      if (++this.highPeriods >= AUTO_CONVERGE.highPeriodsToTrigger) {
        this.highPeriods = 0;
        this.throttlePct =
          this.throttlePct === 0 ? AUTO_CONVERGE.initialPct : Math.min(AUTO_CONVERGE.maxPct, this.throttlePct + AUTO_CONVERGE.incrementPct);
      }
    }
    this.periodStartMs = nowMs;
    this.periodDirtyBytes = 0;
    this.periodSentBytes = 0;
  }

  /**
   * Caps the guest's dirty rate (QEMU dirty-limit, ST §3.4), never below its 1 MB/s default quota
   * and never raising an earlier cap. Returns the cap in force.
   */
  limitDirtyRate(bytesPerS: number): number {
    const cap = Math.max(DIRTY_LIMIT_FLOOR_BYTES_PER_S, bytesPerS);
    if (cap < this.dirtyLimitBytesPerS) this.dirtyLimitBytesPerS = cap;
    return this.dirtyLimitBytesPerS;
  }
}
