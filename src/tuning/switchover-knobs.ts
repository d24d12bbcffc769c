/**
 * Making QEMU's own switchover rule agree with our bound. QEMU completes pre-copy when, at a sync,
 *
 *   pending ≤ threshold_size = expected_bw_per_ms × downtime-limit
 *
 * with `expected_bw_per_ms` = `avail-switchover-bandwidth` / 1000 when that is set, and `pending`
 * = RAM dirty + Σ VFIO `stop_copy_size` on the exact path (ST §1.1–1.3; `stop_copy_length`
 * already holds a PRE_COPY device's pending data since Avihai Horon's 2024 fix — older QEMU adds
 * it twice, which only makes it more cautious). Our bound fits exactly up to a RAM size P*
 * (`largestFittingRamBytes`, the inverse of `predictBlackout`). So we want
 *
 *   threshold_size = P* + Σ stop_copy_size                                    (bytes)
 *   avail-switchover-bandwidth = ⌊blackout link median rate⌋                 (bytes/s, the fitted model's)
 *   downtime-limit = ⌊threshold_size / (avail-switchover-bandwidth / 1000)⌋   (ms)
 *
 * `avail-switchover-bandwidth` is then what Peter Xu added it for — the real switchover rate,
 * not the throttled pre-copy rate QEMU would otherwise use (ST §1.2) — and `downtime-limit`
 * becomes the transfer's share of the deadline (Joao Martins' "precopy-ram-downtime-limit",
 * ST §1.4): the rest of the deadline is the vCPU stop, device arcs, destination load and restart
 * that QEMU's rule leaves out. Both are rounded down, so QEMU's threshold never exceeds P*.
 *
 * When the model has no rate for the link, or the limit would round to 0 ms, the pair is chosen
 * the other way round: `downtime-limit` = the deadline (at least 1 ms) and
 * `avail-switchover-bandwidth` = ⌊threshold_size × 1000 / downtime-limit⌋ (at least 1: QEMU reads 0
 * as "unset").
 */
import { QEMU_MAX_DOWNTIME_LIMIT_MS } from '../facts/qemu.js';
import type { SwitchoverKnobs } from './types.js';

/**
 * Knobs for a RAM target `ramTargetBytes` (P*, ≥ 0) with `deviceBytes` = Σ device stop-copy sizes,
 * the blackout link rate (`null` when unknown) and the deadline, ms.
 */
export function switchoverKnobs(ramTargetBytes: number, deviceBytes: number, linkBytesPerS: number | null, deadlineMs: number): SwitchoverKnobs {
  const target = Math.max(0, Math.floor(ramTargetBytes)) + Math.max(0, Math.ceil(deviceBytes));
  let avail = linkBytesPerS !== null && linkBytesPerS > 0 ? Math.floor(linkBytesPerS) : 0;
  let limit = avail > 0 ? Math.floor((target * 1000) / avail) : 0;
  if (limit > QEMU_MAX_DOWNTIME_LIMIT_MS) limit = QEMU_MAX_DOWNTIME_LIMIT_MS;
  if (limit < 1) {
    limit = Math.min(QEMU_MAX_DOWNTIME_LIMIT_MS, Math.max(1, Math.floor(deadlineMs)));
    avail = Math.floor((target * 1000) / limit);
  }
  // 0 means "unset, use the measured rate" to QEMU: the smallest real threshold is 1 B/s × 1 ms.
  if (avail < 1) {
    avail = 1;
    limit = 1;
  }
  const thresholdBytes = (avail / 1000) * limit;
  return {
    downtimeLimitMs: limit,
    availSwitchoverBandwidthBytesPerS: avail,
    thresholdBytes,
    ramThresholdBytes: Math.max(0, thresholdBytes - Math.max(0, Math.ceil(deviceBytes))),
  };
}
