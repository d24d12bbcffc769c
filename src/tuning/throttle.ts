/**
 * What QEMU's two throttles do to a guest's dirty rate, and the inverse: which knob value holds
 * the rate at a target (the governor's `throttle` action hands such a target, `ThrottleAdvice`).
 *
 * - Auto-converge slows every vCPU by the same pct, so the whole VM's dirty rate scales by
 *   (1 − pct) — the assumption `cpu-throttle-tailslow` itself makes (ST §3.3).
 * - Dirty-limit caps each vCPU at its quota; a vCPU under it is untouched (ST §3.4). The VM's
 *   rate is Σ min(rᵢ, quota + tolerance): a few hot vCPUs are capped while quiet ones run free,
 *   which is why it costs the guest less than auto-converge for the same VM rate.
 */
// simple-statistics' max loops: a spread Math.max(...rates) overflows the stack past ~100k vCPUs.
import { max } from 'simple-statistics';
import { TuningError } from './errors.js';
import { QEMU_AUTO_CONVERGE, QEMU_DIRTY_LIMIT, QEMU_DIRTY_RATE_UNIT_BYTES } from '../facts/qemu.js';
import type { PrecopyWorkload, ThrottleSetting } from './types.js';

const TOLERANCE_BYTES_PER_S = QEMU_DIRTY_LIMIT.toleranceMiBPerS * QEMU_DIRTY_RATE_UNIT_BYTES;
const MIN_LIMIT_BYTES_PER_S = QEMU_DIRTY_LIMIT.minVcpuLimitMiBPerS * QEMU_DIRTY_RATE_UNIT_BYTES;

/** What {@link vcpuRates} needs of a workload: the VM's rate and its per-vCPU shares or vCPU count. */
export type VcpuDirtying = Pick<PrecopyWorkload, 'dirtyBytesPerS' | 'vcpuDirtyBytesPerS' | 'vcpus'>;

/**
 * Per-vCPU dirty rates summing to the VM's rate: the measured shares when given, else an even
 * split over `vcpus`; `null` when neither is known. The tuner and `watch --drive`'s dirty-limit
 * lever both go through it.
 */
export function vcpuRates(w: VcpuDirtying): readonly number[] | null {
  const given = w.vcpuDirtyBytesPerS;
  if (given !== undefined && given.length > 0) {
    const sum = given.reduce((s, r) => s + Math.max(0, r), 0);
    if (sum <= 0) return given.map(() => w.dirtyBytesPerS / given.length);
    return given.map((r) => (Math.max(0, r) / sum) * w.dirtyBytesPerS);
  }
  if (w.vcpus !== undefined && w.vcpus >= 1) return Array.from({ length: Math.floor(w.vcpus) }, () => w.dirtyBytesPerS / Math.floor(w.vcpus as number));
  return null;
}

/**
 * The VM's dirty rate with every vCPU quota at `limitBytesPerS`, bytes/s: Σ min(rᵢ, limit + 25 MiB/s).
 * The tolerance is QEMU's dead band (`DIRTYLIMIT_TOLERANCE_RANGE`): the control loop stops
 * correcting within it, so the worst steady state — the one taken here — is quota + 25.
 */
export function vmRateUnderDirtyLimit(rates: readonly number[], limitBytesPerS: number): number {
  const cap = limitBytesPerS + TOLERANCE_BYTES_PER_S;
  let sum = 0;
  for (const r of rates) sum += Math.min(r, cap);
  return sum;
}

/**
 * Share of vCPU time a dirty-limit quota takes, averaged over the vCPUs: a vCPU held from rᵢ to
 * min(rᵢ, quota + tolerance) loses that share of its time (dirtying taken ∝ CPU time, the
 * assumption auto-converge's tailslow makes too); a vCPU under its quota loses nothing. For
 * auto-converge the same figure is simply pct.
 */
export function vcpuTimeThrottled(rates: readonly number[], limitBytesPerS: number): number {
  if (rates.length === 0) return 0;
  const cap = limitBytesPerS + TOLERANCE_BYTES_PER_S;
  let sum = 0;
  for (const r of rates) if (r > cap) sum += 1 - cap / r;
  return sum / rates.length;
}

/**
 * The largest `vcpu-dirty-limit`, in whole QEMU units (MiB/s), that holds the VM's rate at or below
 * `targetBytesPerS` (water-filling over the vCPUs); `null` when even the minimum quota (1 MiB/s,
 * plus the tolerance on every throttled vCPU) cannot.
 */
export function dirtyLimitForVmRate(rates: readonly number[], targetBytesPerS: number): number | null {
  const total = rates.reduce((s, r) => s + r, 0);
  if (total <= targetBytesPerS) return Math.max(QEMU_DIRTY_LIMIT.minVcpuLimitMiBPerS, Math.ceil((rates.length === 0 ? 0 : Math.max(0, max(rates))) / QEMU_DIRTY_RATE_UNIT_BYTES));
  if (vmRateUnderDirtyLimit(rates, MIN_LIMIT_BYTES_PER_S) > targetBytesPerS) return null;
  // Σ min(rᵢ, cap) is increasing in cap: bisect on whole MiB/s.
  let lo: number = QEMU_DIRTY_LIMIT.minVcpuLimitMiBPerS;
  let hi = Math.ceil(max(rates) / QEMU_DIRTY_RATE_UNIT_BYTES);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (vmRateUnderDirtyLimit(rates, mid * QEMU_DIRTY_RATE_UNIT_BYTES) <= targetBytesPerS) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The auto-converge CPU throttle, whole %, that brings `currentBytesPerS` to at most `targetBytesPerS` (≤ 99). */
export function cpuThrottleForVmRate(currentBytesPerS: number, targetBytesPerS: number): number {
  if (currentBytesPerS <= targetBytesPerS || currentBytesPerS <= 0) return 0;
  const pct = Math.ceil((1 - Math.max(0, targetBytesPerS) / currentBytesPerS) * 100 - 1e-9);
  return Math.min(QEMU_AUTO_CONVERGE.maxPct, Math.max(QEMU_AUTO_CONVERGE.minPct, pct));
}

/** A setting's effect on the guest as QEMU's throttle triggers fire, one migration long. */
export class ThrottleState {
  /** Whole-VM dirty rate now, bytes/s. */
  dirtyBytesPerS: number;
  /** Share of the guest's dirtying throttled now, [0, 1]. */
  slowdown = 0;
  /** Share of vCPU time taken away now, averaged over the vCPUs, [0, 1]. */
  vcpuSlowdown = 0;
  /** Auto-converge CPU throttle now, %. */
  cpuThrottlePct = 0;
  private readonly base: number;
  private readonly rates: readonly number[] | null;
  private triggered = false;

  constructor(
    private readonly setting: ThrottleSetting,
    workload: PrecopyWorkload,
  ) {
    this.base = workload.dirtyBytesPerS;
    this.dirtyBytesPerS = this.base;
    this.rates = setting.kind === 'dirty-limit' ? vcpuRates(workload) : null;
    if (setting.kind === 'dirty-limit' && this.rates === null) {
      throw new TuningError('E_NO_VCPU_RATES', 'dirty-limit needs per-vCPU dirty rates or a vCPU count');
    }
    if (setting.kind === 'held-throttle') this.setCpuThrottle(setting.pct);
  }

  /** Another trigger could still lower the rate. */
  get canTighten(): boolean {
    switch (this.setting.kind) {
      case 'auto-converge':
        return this.cpuThrottlePct < this.setting.maxPct;
      case 'dirty-limit':
        return !this.triggered;
      default:
        return false;
    }
  }

  /** One throttle trigger (`migration_trigger_throttle()` firing); returns whether the rate changed. */
  trigger(): boolean {
    const s = this.setting;
    if (s.kind === 'auto-converge') {
      const next = this.cpuThrottlePct === 0 ? s.initialPct : Math.min(s.maxPct, this.cpuThrottlePct + s.incrementPct);
      if (next === this.cpuThrottlePct) return false;
      this.setCpuThrottle(next);
      return true;
    }
    if (s.kind === 'dirty-limit' && !this.triggered) {
      // `migration_dirty_limit_guest()` sets every vCPU's quota once; later triggers find it in service.
      this.triggered = true;
      const rates = this.rates ?? [];
      this.dirtyBytesPerS = Math.min(this.base, vmRateUnderDirtyLimit(rates, s.vcpuLimitBytesPerS));
      this.slowdown = this.base > 0 ? 1 - this.dirtyBytesPerS / this.base : 0;
      this.vcpuSlowdown = vcpuTimeThrottled(rates, s.vcpuLimitBytesPerS);
      return this.slowdown > 0;
    }
    return false;
  }

  private setCpuThrottle(pct: number): void {
    this.cpuThrottlePct = pct;
    this.slowdown = pct / 100;
    this.vcpuSlowdown = pct / 100;
    this.dirtyBytesPerS = this.base * (1 - pct / 100);
  }
}

/**
 * The auto-converge CPU throttle, whole %, for a guest already throttled by `currentPct` whose
 * dirty rate `measuredBytesPerS` was measured under that throttle: the unthrottled rate is
 * measured / (1 − current), so the throttle that brings it to `targetBytesPerS` compounds,
 * 1 − (1 − current)(1 − f) with f = 1 − target / measured. QEMU's `cpu-throttle-percentage` is
 * absolute (`cpu_throttle_set()`, `migration/cpu-throttle.c`): sending the fraction f alone
 * would ask for less than the guest already has. 0 when no more throttle is needed.
 */
export function cpuThrottleUnder(currentPct: number, measuredBytesPerS: number, targetBytesPerS: number): number {
  const kept = 1 - Math.min(QEMU_AUTO_CONVERGE.maxPct, Math.max(0, currentPct)) / 100;
  return cpuThrottleForVmRate(measuredBytesPerS / kept, targetBytesPerS);
}

/** Both QEMU throttles' values for one whole-VM dirty-rate target. */
export interface ThrottleKnobs {
  /** Auto-converge CPU throttle, % (0: none needed). */
  readonly cpuThrottlePct: number;
  /** `vcpu-dirty-limit`, MiB/s; `null` when vCPU rates are unknown or no quota can reach the target. */
  readonly vcpuDirtyLimitMiBPerS: number | null;
}

/**
 * Maps a maximum whole-VM dirty rate — the governor's `ThrottleAdvice.maxDirtyBytesPerS` — to the
 * auto-converge percentage and the per-vCPU dirty-limit quota that hold the guest at or below it.
 */
export function throttleKnobs(maxDirtyBytesPerS: number, w: PrecopyWorkload): ThrottleKnobs {
  const rates = vcpuRates(w);
  return {
    cpuThrottlePct: cpuThrottleForVmRate(w.dirtyBytesPerS, maxDirtyBytesPerS),
    vcpuDirtyLimitMiBPerS: rates === null ? null : dirtyLimitForVmRate(rates, maxDirtyBytesPerS),
  };
}
