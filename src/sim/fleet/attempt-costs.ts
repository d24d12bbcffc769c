/**
 * The VM-level blackout costs of one switchover attempt: vCPU stop, final sync, non-iterable
 * state, destination start, the link's rate in the blackout, and the rare stall. Drawn from a
 * stream labelled by (VM seed, attempt number), so attempt k of a VM costs the same whichever
 * policy started it and whenever: common random numbers across policies, and an oracle can
 * evaluate "what if I switched now" without touching any state.
 */
import { Rng } from '../rng.js';
import { BLACKOUT_LINK, GiB, VM_COSTS } from './constants.js';

/** Costs of one attempt; durations in ms, the link as a factor on the VM's median rate. */
export interface AttemptCosts {
  readonly vcpuStopMs: number;
  readonly nonIterableMs: number;
  readonly destStartMs: number;
  /** Final dirty-bitmap sync, ∝ guest RAM. */
  readonly syncMs: number;
  /** Multiplies the VM's median blackout rate (noise and outliers; < 1 is slower). */
  readonly linkFactor: number;
  /** Extra time of a rare stall, 0 when none. */
  readonly stallMs: number;
}

/** Costs of attempt `attempt` (1-based) of the VM seeded `vmSeed` with `ramBytes` of RAM. */
export function attemptCosts(vmSeed: number, attempt: number, ramBytes: number): AttemptCosts {
  const rng = Rng.from(`attempt/${vmSeed}/${attempt}`);
  const vcpuStopMs = rng.lognormal(Math.log(VM_COSTS.vcpuStop.medianMs), VM_COSTS.vcpuStop.sigma);
  const nonIterableMs = rng.lognormal(Math.log(VM_COSTS.nonIterable.medianMs), VM_COSTS.nonIterable.sigma);
  const destStartMs = rng.lognormal(Math.log(VM_COSTS.destStart.medianMs), VM_COSTS.destStart.sigma);
  let linkFactor = rng.lognormal(0, BLACKOUT_LINK.sigma);
  // Draw both outcomes' numbers always, so the stream does not depend on which happened.
  const outlier = rng.chance(BLACKOUT_LINK.outlierProb);
  const outlierFactor = rng.uniform(BLACKOUT_LINK.outlierMinFactor, BLACKOUT_LINK.outlierMaxFactor);
  if (outlier) linkFactor /= outlierFactor;
  const stall = rng.chance(VM_COSTS.stallProb);
  const stallExtra = rng.uniform(VM_COSTS.stallMinMs, VM_COSTS.stallMaxMs);
  return {
    vcpuStopMs,
    nonIterableMs,
    destStartMs,
    syncMs: (ramBytes / GiB) * VM_COSTS.syncMsPerGiB,
    linkFactor,
    stallMs: stall ? stallExtra : 0,
  };
}

/** Time to move `bytes` in the blackout at `medianBytesPerS` under `costs`, ms. */
export function transferMs(bytes: number, medianBytesPerS: number, costs: AttemptCosts): number {
  return (bytes / (medianBytesPerS * costs.linkFactor)) * 1000;
}

/**
 * P(an attempt's stall lasts longer than `ms`) under `VM_COSTS`: the stall's probability times
 * the share of its uniform [min, max] range above `ms` (all of it below min, none at max).
 */
export function stallExceedance(ms: number): number {
  const { stallProb, stallMinMs, stallMaxMs } = VM_COSTS;
  if (ms < stallMinMs) return stallProb;
  if (ms >= stallMaxMs) return 0;
  return (stallProb * (stallMaxMs - ms)) / (stallMaxMs - stallMinMs);
}
