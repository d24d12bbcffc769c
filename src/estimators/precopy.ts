/**
 * Pre-copy round dynamics, the AVG model of Akoush et al. (MASCOTS 2010; published-numbers.md §2):
 * round i sends what was dirtied during round i−1, so with dirty rate D and link rate B the
 * bytes left shrink by ρ = D / B per round. Dirtying saturates at the writable working set
 * (`wwsBytes`): re-dirtying a page adds nothing, so the pending bytes never exceed it.
 *
 * Pure: the governor asks "will waiting help, and how long until it fits?", the tuner asks
 * "which dirty rate makes it fit within the budget?".
 */

/** The pre-copy situation at one moment. */
export interface PrecopyState {
  /** Bytes still to send (QEMU `ram.remaining` plus device pre-copy bytes). */
  readonly remainingBytes: number;
  /** Rate the guest (and devices) dirty memory, bytes/s. */
  readonly dirtyBytesPerS: number;
  /** Pre-copy transfer rate, bytes/s (the throttled rate, e.g. QEMU max-bandwidth). */
  readonly bandwidthBytesPerS: number;
  /** Writable working set: pending bytes saturate here. Defaults to unbounded. */
  readonly wwsBytes?: number;
}

/** Limits on how long pre-copy may go on. */
export interface PrecopyLimits {
  /** Stop projecting after this many rounds (Xen's cap is 29 + 1; QEMU has none). */
  readonly maxRounds?: number;
  /** Stop projecting after this much time, ms. */
  readonly maxTimeMs?: number;
}

/** What pre-copy will do from a state until pending bytes fit a target. */
export interface PrecopyProjection {
  /** ρ = dirty rate / bandwidth (∞ when bandwidth is 0). */
  readonly rho: number;
  /** True when pending bytes reach the target within the limits. */
  readonly reachesTarget: boolean;
  /** Rounds run until the target is met (or until a limit). */
  readonly rounds: number;
  /** Time those rounds take, ms. */
  readonly timeMs: number;
  /** Pending bytes when the projection stops. */
  readonly finalRemainingBytes: number;
  /** Bytes sent during the projected rounds. */
  readonly sentBytes: number;
}

const DEFAULT_MAX_ROUNDS = 1000;

/** ρ = dirty / bandwidth: < 1 converges (geometrically), ≥ 1 never shrinks. */
export function convergenceRatio(dirtyBytesPerS: number, bandwidthBytesPerS: number): number {
  if (bandwidthBytesPerS <= 0) return Number.POSITIVE_INFINITY;
  return Math.max(0, dirtyBytesPerS) / bandwidthBytesPerS;
}

/**
 * Projects pre-copy rounds until pending bytes ≤ `targetBytes`, the maximum rounds or the
 * maximum time. Round k sends V_k in V_k / B seconds, during which min(D·V_k/B, WWS) is dirtied.
 */
export function projectPrecopy(
  state: PrecopyState,
  targetBytes: number,
  limits: PrecopyLimits = {},
): PrecopyProjection {
  const rho = convergenceRatio(state.dirtyBytesPerS, state.bandwidthBytesPerS);
  const maxRounds = limits.maxRounds ?? DEFAULT_MAX_ROUNDS;
  const maxTimeMs = limits.maxTimeMs ?? Number.POSITIVE_INFINITY;
  const wws = state.wwsBytes ?? Number.POSITIVE_INFINITY;
  let pending = Math.max(0, state.remainingBytes);
  let rounds = 0;
  let timeMs = 0;
  let sentBytes = 0;
  if (pending <= targetBytes) {
    return { rho, reachesTarget: true, rounds, timeMs, finalRemainingBytes: pending, sentBytes };
  }
  if (state.bandwidthBytesPerS <= 0) {
    return { rho, reachesTarget: false, rounds, timeMs, finalRemainingBytes: pending, sentBytes };
  }
  while (rounds < maxRounds) {
    const roundMs = (pending / state.bandwidthBytesPerS) * 1000;
    if (timeMs + roundMs > maxTimeMs) break;
    timeMs += roundMs;
    sentBytes += pending;
    rounds++;
    const next = Math.min(pending * rho, wws);
    // Not shrinking any more: further rounds only repeat this one.
    const stalled = next >= pending * 0.999;
    pending = next;
    if (pending <= targetBytes) {
      return { rho, reachesTarget: true, rounds, timeMs, finalRemainingBytes: pending, sentBytes };
    }
    if (stalled) break;
  }
  return { rho, reachesTarget: false, rounds, timeMs, finalRemainingBytes: pending, sentBytes };
}

/**
 * The highest dirty rate (bytes/s) at which pre-copy reaches `targetBytes` within `timeBudgetMs`,
 * found by bisection on {@link projectPrecopy}; 0 when even a guest that dirties nothing cannot
 * (the first round alone is too long), and the current rate when no throttle is needed.
 */
export function maxDirtyRateForTarget(
  state: PrecopyState,
  targetBytes: number,
  timeBudgetMs: number,
  limits: PrecopyLimits = {},
): number {
  const fits = (dirty: number): boolean =>
    projectPrecopy({ ...state, dirtyBytesPerS: dirty }, targetBytes, { ...limits, maxTimeMs: timeBudgetMs })
      .reachesTarget;
  if (fits(state.dirtyBytesPerS)) return state.dirtyBytesPerS;
  if (!fits(0)) return 0;
  let lo = 0;
  let hi = state.dirtyBytesPerS;
  for (let i = 0; i < 40 && hi - lo > 1; i++) {
    const mid = (lo + hi) / 2;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}
