/**
 * Pre-copy pass by pass as QEMU runs it, under a throttle setting. The round itself is the AVG
 * model of `estimators/precopy.ts` (`projectPrecopy`, one round at a time: a pass of V bytes takes
 * V / B and dirties min(D·V/B, WWS)); this file adds what QEMU does between rounds:
 *
 * - **When a pass ends.** QEMU syncs the dirty bitmap only on its exact path, i.e. when the cheap
 *   estimate (`ram.remaining`) has dropped below `threshold_size` (ST §1.1 steps 1–2, §1.3). So a
 *   pass does not send everything: it stops with r still pending, somewhere in the last window
 *   before the threshold — r uniform on [threshold − δ, threshold], δ the data of one
 *   `BUFFER_DELAY` window (at most that much is sent between two checks). The sync then finds
 *   r + what the pass dirtied, and QEMU completes when that is ≤ threshold: a pass that dirtied
 *   d completes with probability (δ − d) / δ. The copied dataset shows the first part exactly:
 *   its first pass ends at ~55 MB pending with a ~40 MB threshold, not at 0.
 * - **How short a pass can be.** The thread checks the rule once per iteration, one window of
 *   data apart at most, and a sync (a KVM dirty-log fetch) is not free, so a pass lasts at least
 *   `minPassMs` (one window by default) and the guest dirties D × that much in it: a guest that
 *   dirties a window's worth in a window (ρ ≥ 1) is never caught, however short the AVG formula
 *   would make the passes. (In the dataset's non-converging runs passes settled at ≈ 0.37 s.)
 * - **When throttles fire.** At a sync more than 1 s after the last period, the period counts as
 *   high if it dirtied more than `throttle-trigger-threshold` % of what it sent; every second high
 *   period fires the throttle (`migration_trigger_throttle()`, ST §3.2). Throttling therefore
 *   starts late — after a long first pass it takes two more periods — and that delay is part of
 *   the total time predicted here.
 *
 * The projection is deterministic: pending follows its expectation (r at its mean), and the run
 * switches over at the pass by which QEMU has completed with probability `completionQuantile`
 * (0.9 by default: a plan; 0.5 to compare with a median run), with the threshold's worth of RAM
 * pending (the most the rule lets through, so the blackout predicted is the largest it allows).
 *
 * Not modelled: QEMU ≥ 9.2's forced 5 s sync under auto-converge (it can only make triggers come
 * earlier in long passes, so times here err long), `cpu-throttle-tailslow`, and the time dirty-limit's
 * control loop takes to settle (one `x-vcpu-dirty-limit-period`, 1 s by default).
 */
import { projectPrecopy } from '../estimators/precopy.js';
import { TuningError } from './errors.js';
import { QEMU_BUFFER_DELAY_MS, QEMU_THROTTLE_TRIGGER } from '../facts/qemu.js';
import { ThrottleState } from './throttle.js';
import type { PrecopyRun, PrecopyWorkload, ThrottleSetting, ThrottleStep } from './types.js';

/** Where the run stops and what QEMU compares against. */
export interface PrecopyRunOptions {
  /** Switch over when RAM pending after a sync is ≤ this (QEMU's threshold minus device sizes), bytes. */
  readonly ramThresholdBytes: number;
  /** Bytes sent between two completion checks; default one `BUFFER_DELAY` window at the bandwidth. */
  readonly checkBytes?: number;
  /** Shortest pass, ms: the guest dirties at least this long between two syncs. Default one `BUFFER_DELAY` window. */
  readonly minPassMs?: number;
  /** Stop (not converged) when the next pass would end after this, ms. Default: unlimited. */
  readonly maxTimeMs?: number;
  /** Stop after this many passes. Default 20,000. */
  readonly maxPasses?: number;
  /** QEMU `throttle-trigger-threshold`, %. Default 50. */
  readonly triggerThresholdPct?: number;
  /** Switch at the pass by which QEMU completed with this probability, in (0, 1). Default 0.9. */
  readonly completionQuantile?: number;
}

const DEFAULT_MAX_PASSES = 20_000;
const DEFAULT_COMPLETION_QUANTILE = 0.9;
/** A completion chance per pass below this, with pending not shrinking, is a stall (> 1000 passes expected). */
const UNLIKELY = 1e-3;
/** A pass that leaves at least this share of the last pending has not shrunk it. */
const NOT_SHRINKING = 1 - 1e-9;

/** Throws `E_BAD_INPUT` for a workload that cannot exist (negative or non-finite figures, no RAM). */
export function checkWorkload(w: PrecopyWorkload): void {
  const finite = (x: number | undefined): boolean => x === undefined || (Number.isFinite(x) && x >= 0);
  if (!(w.ramBytes > 0) || !finite(w.ramBytes) || !finite(w.dirtyBytesPerS) || !finite(w.bandwidthBytesPerS) ||
    !finite(w.firstPassBytes) || (w.wwsBytes !== undefined && !(w.wwsBytes >= 0)) || !(w.vcpuDirtyBytesPerS ?? []).every((r) => finite(r))) {
    throw new TuningError(
      'E_BAD_INPUT',
      `workload figures must be finite and ≥ 0 (RAM > 0): ramBytes=${String(w.ramBytes)}, dirtyBytesPerS=${String(w.dirtyBytesPerS)}, ` +
        `bandwidthBytesPerS=${String(w.bandwidthBytesPerS)}, firstPassBytes=${String(w.firstPassBytes)}, wwsBytes=${String(w.wwsBytes)}, ` +
        `vcpuDirtyBytesPerS=[${(w.vcpuDirtyBytesPerS ?? []).join(', ')}]`,
    );
  }
}

/** Projects pre-copy of `w` under `setting` until QEMU's rule (at `options.ramThresholdBytes`) switches over, or a limit. */
export function runPrecopy(w: PrecopyWorkload, setting: ThrottleSetting, options: PrecopyRunOptions): PrecopyRun {
  checkWorkload(w);
  const bandwidth = w.bandwidthBytesPerS;
  const threshold = Math.max(0, options.ramThresholdBytes);
  const checkBytes = options.checkBytes ?? (bandwidth * QEMU_BUFFER_DELAY_MS) / 1000;
  // r, RAM still pending when the estimate first reads below the threshold: uniform on [low, threshold].
  const low = Math.max(0, threshold - checkBytes);
  const span = threshold - low;
  const meanLeftover = (low + threshold) / 2;
  const minPassBytes = (bandwidth * (options.minPassMs ?? QEMU_BUFFER_DELAY_MS)) / 1000;
  const maxTimeMs = options.maxTimeMs ?? Number.POSITIVE_INFINITY;
  const maxPasses = options.maxPasses ?? DEFAULT_MAX_PASSES;
  const triggerShare = (options.triggerThresholdPct ?? QEMU_THROTTLE_TRIGGER.defaultThresholdPct) / 100;
  const quantile = options.completionQuantile ?? DEFAULT_COMPLETION_QUANTILE;
  if (!(quantile > 0 && quantile < 1)) throw new TuningError('E_BAD_INPUT', `completionQuantile must be in (0, 1), got ${String(quantile)}`);
  const stillRunning = 1 - quantile;
  const wws = Math.min(w.wwsBytes ?? w.ramBytes, w.ramBytes);
  const throttle = new ThrottleState(setting, w);
  const steps: ThrottleStep[] = [];

  let pending = w.ramBytes;
  let passes = 0;
  let timeMs = 0;
  let sentBytes = 0;
  let slowdownMs = 0;
  let periodStartMs = 0;
  let periodDirty = 0;
  let periodSent = 0;
  let highPeriods = 0;
  /** P(QEMU has not completed yet). */
  let survival = 1;
  let converged = pending <= threshold;
  let stalled = false;

  while (!converged && passes < maxPasses && bandwidth > 0) {
    const sendBytes = passes === 0 ? (w.firstPassBytes ?? w.ramBytes) : Math.max(0, pending - meanLeftover);
    // A pass shorter than the floor still lets the guest dirty for the whole floor.
    const round = projectPrecopy(
      { remainingBytes: Math.max(sendBytes, minPassBytes), dirtyBytesPerS: throttle.dirtyBytesPerS, bandwidthBytesPerS: bandwidth, wwsBytes: wws },
      0,
      { maxRounds: 1 },
    );
    if (timeMs + round.timeMs > maxTimeMs) break;
    timeMs += round.timeMs;
    slowdownMs += throttle.slowdown * round.timeMs;
    sentBytes += sendBytes;
    passes++;
    const dirtied = round.finalRemainingBytes;
    const before = pending;
    pending = Math.min(w.ramBytes, Math.min(meanLeftover, pending) + dirtied);

    // The sync: QEMU's period bookkeeping and throttle trigger.
    periodDirty += dirtied;
    periodSent += sendBytes;
    let tightened = false;
    if (timeMs - periodStartMs > QEMU_THROTTLE_TRIGGER.periodMs) {
      if (periodDirty > periodSent * triggerShare && ++highPeriods >= QEMU_THROTTLE_TRIGGER.highPeriods) {
        highPeriods = 0;
        if (throttle.trigger()) {
          tightened = true;
          steps.push({
            atMs: timeMs,
            pass: passes,
            dirtyBytesPerS: throttle.dirtyBytesPerS,
            slowdown: throttle.slowdown,
            vcpuSlowdown: throttle.vcpuSlowdown,
            cpuThrottlePct: throttle.cpuThrottlePct,
          });
        }
      }
      periodStartMs = timeMs;
      periodDirty = 0;
      periodSent = 0;
    }
    // The completion test at this sync: r + dirtied ≤ threshold.
    const completes = span > 0 ? Math.min(1, Math.max(0, (threshold - dirtied - low) / span)) : dirtied <= threshold ? 1 : 0;
    survival *= 1 - completes;
    if (survival <= stillRunning) {
      converged = true;
      pending = Math.min(pending, threshold);
    } else if (passes > 1 && completes < UNLIKELY && !tightened && !throttle.canTighten && pending >= before * NOT_SHRINKING) {
      // A pass run before the rate just dropped proves nothing about the next one.
      stalled = true;
    }
    if (stalled) break;
  }

  return {
    converged,
    stalled,
    passes,
    dirtySyncCount: passes + (converged ? 2 : 1),
    precopyMs: timeMs,
    pendingBytes: pending,
    sentBytes,
    dirtyBytesPerS: throttle.dirtyBytesPerS,
    slowdown: throttle.slowdown,
    meanSlowdown: timeMs > 0 ? slowdownMs / timeMs : throttle.slowdown,
    vcpuSlowdown: throttle.vcpuSlowdown,
    cpuThrottlePct: throttle.cpuThrottlePct,
    steps,
  };
}
