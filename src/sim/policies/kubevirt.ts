/**
 * The `kubevirt` policy: KubeVirt's VEP 248 stall detector (feature gate `MigrationStallDetection`,
 * alpha in KubeVirt 1.9) on top of QEMU's rule (ST §4.3; `kubevirt/kubevirt`
 * `pkg/virt-launcher/virtwrap/stall-detector.go`, defaults from `pkg/virt-config/virt-config.go`):
 *
 * - QEMU's downtime limit starts at min(maxDowntimeMs, 300); `maxDowntimeMs` is the VM's deadline.
 * - Bandwidth: EWMA (α 0.4) of libvirt `memory_bps` from the 400 ms stats polls.
 * - At each iteration boundary (a bitmap sync): record (RAM remaining, elapsed). Stalled when the
 *   remaining is ≥ 96 % of the smallest remaining older than 40 s. Once stalled, act only at a
 *   local minimum (≤ 104 % of the best seen), relaxing the best to the next level seen after a
 *   patience window (40 s, halved each time).
 * - Implied downtime = remaining ÷ EWMA bandwidth; if it exceeds the completion budget
 *   (2 × 150 s/GB − elapsed), do nothing; else, without `allowWorkloadDisruption` (the default):
 *   "soft stop-and-copy" — downtime limit := maxDowntimeMs — when implied ≤ 1.5 × maxDowntimeMs,
 *   abort otherwise; with it, "hard stop-and-copy" (limit 2,000,000 ms).
 * - Abort when the switchover does not happen within 60 s of the action, and at the completion
 *   timeout (150 s per GB of RAM).
 *
 * Remaining bytes are libvirt's `data_remaining`: RAM only, no VFIO (the VEP's documented gap).
 * A later revision of `live-migration-source.go` forces the switchover (2,000,000 ms) for every
 * VFIO VM at a stall; we model the revision the switchover-today.md snapshot describes.
 */
import { KUBEVIRT, QEMU_DEFAULT_DOWNTIME_LIMIT_MS } from '../fleet/constants.js';
import type { MigrationWorld } from '../fleet/migration-world.js';
import { qemuCompletionCheck } from './qemu-rule.js';
import { CONTINUE, type Policy, type PolicyAction, type PolicyRun } from './types.js';

interface IterationRecord {
  readonly elapsedMs: number;
  readonly remainingBytes: number;
}

/** Options of {@link KubevirtPolicy}. */
export interface KubevirtOptions {
  /** MigrationPolicy `allowWorkloadDisruption`; default false (KubeVirt's default). */
  readonly allowWorkloadDisruption?: boolean;
}

/** KubeVirt VEP 248 over QEMU's rule. */
export class KubevirtPolicy implements Policy {
  readonly name = 'kubevirt';
  readonly qemuAutoConverge = true;

  constructor(private readonly options: KubevirtOptions = {}) {}

  start(world: MigrationWorld): PolicyRun {
    return new KubevirtRun(world, this.options.allowWorkloadDisruption ?? false);
  }
}

class KubevirtRun implements PolicyRun {
  private limitMs: number;
  private readonly maxDowntimeMs: number;
  private ewmaBytesPerS = 0;
  private lastStatsMs = Number.NEGATIVE_INFINITY;
  private lastPass = 0;
  private readonly candidates: IterationRecord[] = [];
  private outsideMin: IterationRecord | null = null;
  private stalled = false;
  private bestRemaining = 0;
  private history: number[] = [];
  private patienceMs = 0;
  private relaxAtMs = 0;
  private switchoverAtMs: number | null = null;

  constructor(
    world: MigrationWorld,
    private readonly allowWorkloadDisruption: boolean,
  ) {
    this.maxDowntimeMs = world.spec.deadlineMs;
    this.limitMs = Math.min(this.maxDowntimeMs, QEMU_DEFAULT_DOWNTIME_LIMIT_MS);
  }

  async onPoll(world: MigrationWorld): Promise<PolicyAction> {
    const t = world.nowMs;
    if (t >= world.spec.budgetMs) return { kind: 'abort', reason: 'completion timeout (150 s per GB)' };
    if (this.switchoverAtMs !== null && t - this.switchoverAtMs >= KUBEVIRT.switchoverTimeoutMs) {
      return { kind: 'abort', reason: 'switchover timeout (60 s)' };
    }
    if (world.ram.pass !== this.lastPass) {
      this.lastPass = world.ram.pass;
      const abort = this.iteration(world, { elapsedMs: t, remainingBytes: world.ram.remainingBytes });
      if (abort !== null) return abort;
    } else if (t - this.lastStatsMs >= KUBEVIRT.statsPollMs) {
      this.lastStatsMs = t;
      const sample = world.windowBytesPerS;
      this.ewmaBytesPerS = this.ewmaBytesPerS === 0 ? sample : KUBEVIRT.ewmaAlpha * sample + (1 - KUBEVIRT.ewmaAlpha) * this.ewmaBytesPerS;
    }
    const check = await qemuCompletionCheck(world, this.limitMs);
    return check.complete ? { kind: 'switch', predictedBlackoutMs: check.expectedDowntimeMs } : CONTINUE;
  }

  /** `processStallDetectionIteration` then `decideAction`; returns an abort or null. */
  private iteration(world: MigrationWorld, record: IterationRecord): PolicyAction | null {
    if (this.ewmaBytesPerS === 0 || this.switchoverAtMs !== null) return null;
    this.updateCandidates(record);
    if (this.stalled) {
      this.relax(record);
    } else if (this.outsideMin !== null && record.remainingBytes >= this.outsideMin.remainingBytes * (1 - KUBEVIRT.stallMargin / 100)) {
      this.bestRemaining = Math.min(this.outsideMin.remainingBytes, ...this.candidates.map((c) => c.remainingBytes));
      this.history = [];
      this.patienceMs = KUBEVIRT.stallProgressTimeoutMs;
      this.relaxAtMs = record.elapsedMs + this.patienceMs;
      this.stalled = true;
    } else {
      return null;
    }
    return this.decide(world, record);
  }

  private updateCandidates(record: IterationRecord): void {
    while (this.candidates.length > 0 && record.elapsedMs - this.candidates[0]!.elapsedMs >= KUBEVIRT.stallProgressTimeoutMs) {
      const oldest = this.candidates.shift()!;
      if (this.outsideMin === null || oldest.remainingBytes < this.outsideMin.remainingBytes) this.outsideMin = oldest;
    }
    if (this.outsideMin !== null && record.remainingBytes > this.outsideMin.remainingBytes) return;
    const last = this.candidates[this.candidates.length - 1];
    if (last !== undefined && record.remainingBytes >= last.remainingBytes) return;
    this.candidates.push(record);
  }

  private relax(record: IterationRecord): void {
    insertSorted(this.history, record.remainingBytes);
    if (record.elapsedMs < this.relaxAtMs) return;
    const next = this.history.shift();
    if (next === undefined) return;
    this.bestRemaining = next;
    this.patienceMs *= KUBEVIRT.patienceDecay;
    this.relaxAtMs = record.elapsedMs + this.patienceMs;
  }

  private decide(world: MigrationWorld, record: IterationRecord): PolicyAction | null {
    if (record.remainingBytes > this.bestRemaining * (1 + KUBEVIRT.stallMargin / 100)) return null;
    const impliedMs = record.remainingBytes / (this.ewmaBytesPerS / 1000);
    const deadlineMs = world.spec.budgetMs * KUBEVIRT.completionTimeoutFactor;
    if (impliedMs > deadlineMs - record.elapsedMs) return null;
    if (this.allowWorkloadDisruption) {
      this.limitMs = KUBEVIRT.hardStopDowntimeMs;
    } else if (impliedMs <= this.maxDowntimeMs * KUBEVIRT.precopyPossibleFactor) {
      this.limitMs = this.maxDowntimeMs;
    } else {
      return { kind: 'abort', reason: `stall: implied downtime ${impliedMs.toFixed(0)} ms > ${KUBEVIRT.precopyPossibleFactor} × maxDowntime` };
    }
    this.switchoverAtMs = record.elapsedMs;
    return null;
  }
}

function insertSorted(sorted: number[], value: number): void {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  sorted.splice(lo, 0, value);
}
