/**
 * Every number the fleet simulator uses, with where it comes from. Sources are
 * `shared/specs/published-numbers.md` (PN §n) and `shared/specs/switchover-today.md` (ST §n).
 * A number nobody published is marked **choice** with its reasoning: it is a knob of the fleet,
 * not a fact, and the demo's conclusions hold only as far as these choices are plausible.
 */

import {
  QEMU_AUTO_CONVERGE,
  QEMU_BUFFER_DELAY_MS,
  QEMU_DEFAULT_DOWNTIME_LIMIT_MS,
  QEMU_FAILED_SIZE_QUERY_BYTES,
  QEMU_MAX_BANDWIDTH_DEFAULT_BYTES_PER_S,
  QEMU_MAX_DOWNTIME_LIMIT_MS,
  QEMU_THROTTLE_TRIGGER,
} from '../../facts/qemu.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
/** Decimal gigabyte: KubeVirt's `ScaledValue(Giga)` (ST §4.3). */
export const GB = 1e9;

/**
 * The simulated migration thread's window: QEMU `BUFFER_DELAY` = 100 ms, `migration_update_counters`
 * re-measures bandwidth and re-evaluates the switchover at most once per window (ST §1.2; PN §6.2
 * "QEMU's rule (verified in source)").
 */
export const POLL_MS = QEMU_BUFFER_DELAY_MS;

// QEMU's facts the simulator uses, from the one table (`facts/qemu.ts`). The `downtime-limit`
// default, 300 ms, is also Google's p99 blackout (PN §5).
export { QEMU_MAX_BANDWIDTH_DEFAULT_BYTES_PER_S, QEMU_DEFAULT_DOWNTIME_LIMIT_MS, QEMU_FAILED_SIZE_QUERY_BYTES };

/**
 * QEMU auto-converge (ST §3.2–3.3, `migration/ram.c`): at a bitmap sync ≥ 1000 ms after the
 * last period, a period is "high" when the guest dirtied more than `throttle-trigger-threshold`
 * (50 %) of what was sent; the second high period throttles 20 % (`cpu-throttle-initial`), each
 * later one +10 % (`cpu-throttle-increment`) up to 99 % (`max-cpu-throttle`).
 */
export const AUTO_CONVERGE = {
  periodMs: QEMU_THROTTLE_TRIGGER.periodMs,
  triggerThreshold: QEMU_THROTTLE_TRIGGER.defaultThresholdPct / 100,
  highPeriodsToTrigger: QEMU_THROTTLE_TRIGGER.highPeriods,
  initialPct: QEMU_AUTO_CONVERGE.defaultInitialPct,
  incrementPct: QEMU_AUTO_CONVERGE.defaultIncrementPct,
  maxPct: QEMU_AUTO_CONVERGE.defaultMaxPct,
} as const;

/**
 * KubeVirt VEP 248 stall detector defaults (ST §4.3; `kubevirt/kubevirt`
 * `pkg/virt-launcher/virtwrap/stall-detector.go`, `pkg/virt-config/virt-config.go`).
 */
export const KUBEVIRT = {
  /** libvirt job stats are polled every 400 ms. */
  statsPollMs: 400,
  ewmaAlpha: 0.4,
  stallProgressTimeoutMs: 40_000,
  /** Percent. */
  stallMargin: 4,
  patienceDecay: 0.5,
  completionTimeoutFactor: 2,
  precopyPossibleFactor: 1.5,
  switchoverTimeoutMs: 60_000,
  /** `completionTimeoutPerGiB` default: 150 s per (decimal, rounded-up) GB of guest memory. */
  completionTimeoutPerGbS: 150,
  /** QEMU's maximum downtime-limit, set by a "hard stop-and-copy" (2,000,000 ms). */
  hardStopDowntimeMs: QEMU_MAX_DOWNTIME_LIMIT_MS,
} as const;

/**
 * The VM-level blackout costs that are not device arcs and not bytes (PN §9.1: "model blackout as
 * fixed + size/throughput + destination load"). Medians are log-normal.
 * - choice: vCPU stop 2 ms, non-iterable save+load 4 ms, destination start 4 ms (σ 0.3–0.5):
 *   together with the final sync they make ≈ 10–12 ms, consistent with the copied dataset's
 *   14.5 ms median downtime for an 8 GiB guest with ~30 MiB in the blackout (PN §8.1) and
 *   OPNFV's 5–9 ms after tuning (PN §6.3). Larger guests with vhost devices see 20–112 ms of
 *   non-iterable load (Chuang Xu, ST §5 #5); ours have none.
 * - Final dirty-bitmap sync: "several hundred ms to a few seconds" for ~1 TB guests (KubeVirt
 *   VEP 248, ST §4.3 and §5 #7); choice: 0.25 ms per GiB of guest RAM (256 ms at 1 TiB).
 * - Stall: in the copied dataset 1 of 40 pre-copy runs took 383 ms with ~30 MiB sent
 *   ("non-byte costs", PN §8.1): probability 1/40; choice: its extra time uniform in
 *   [100, 400] ms around the observed ≈ 370 ms excess.
 */
export const VM_COSTS = {
  vcpuStop: { medianMs: 2, sigma: 0.3 },
  nonIterable: { medianMs: 4, sigma: 0.4 },
  destStart: { medianMs: 4, sigma: 0.3 },
  syncMsPerGiB: 0.25,
  stallProb: 1 / 40,
  stallMinMs: 100,
  stallMaxMs: 400,
} as const;

/**
 * The blackout (stop-copy) transfer: unthrottled (QEMU lifts the rate limit at completion,
 * ST §1.2), at the link's line rate times an efficiency.
 * - choice: efficiency uniform in [0.7, 0.95] per VM (TCP and framing overhead).
 * - Single migration stream cap 2.2 GB/s without multifd: cloud-hypervisor PR #7799 moved
 *   1.8–2.0 GiB/s per round, the copied dataset ≥ 2,350 MiB/s over a local socket (PN §6.2,
 *   §8.1); choice: 2.2 GB/s between them. Multifd (several channels) removes the cap.
 * - Run-to-run noise: choice σ = 0.1 (log-normal).
 * - Outliers: "1 run in 10 had a large RAM-downtime outlier" (Ufimtseva, 200 GB guest on
 *   100 Gbit/s, ST §5 #2): probability 0.1; choice: the transfer then takes 1.5–3× as long.
 */
export const BLACKOUT_LINK = {
  efficiencyMin: 0.7,
  efficiencyMax: 0.95,
  singleStreamCapBytesPerS: 2.2e9,
  sigma: 0.1,
  outlierProb: 0.1,
  outlierMinFactor: 1.5,
  outlierMaxFactor: 3,
} as const;

/**
 * Pre-copy throughput noise per 100 ms window: QEMU's `ram.mbps` is "effectively a ~100 ms
 * snapshot" (VEP 248, ST §4.3) and noisy; choice: log-normal σ = 0.15 per window.
 * Zero pages cost CPU, not link: choice: a zero page takes 0.1 of a normal page's time, so the
 * first pass's wire rate reads low, the effect behind Peter Xu's "tens of MB/s on a 10 Gbps link"
 * (ST §1.2).
 */
export const PRECOPY_NOISE = { sigma: 0.15, zeroPageCost: 0.1 } as const;

/** QEMU dirty-limit's default quota is 1 MB/s per vCPU (ST §3.4): the lowest a throttle goes. */
export const DIRTY_LIMIT_FLOOR_BYTES_PER_S = 1e6;
