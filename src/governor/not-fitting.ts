/**
 * The branch of `decide()` where the bound does not fit the deadline yet: will waiting help
 * (pre-copy converging to a fitting size within the budget), would throttling the guest, or
 * neither? The pre-copy maths is `estimators/precopy.ts` (AVG model, Akoush et al. 2010); this
 * file only asks it the right questions.
 */
import { stackOfSnapshot } from './snapshot-stack.js';
import type { CompiledModel } from '../estimators/predict.js';
import { projectPrecopy, type PrecopyState } from '../estimators/precopy.js';
import { precopyPlateauBytes } from '../estimators/precopy-plateau.js';
import type { BlackoutDevice } from '../estimators/types.js';
import { largestFittingRamBytes } from './ram-target.js';
import { precopyPendingBytes, withoutPrecopyPending, type SizedDevice } from './snapshot-devices.js';
import type { DecisionReason, Slo, ThrottleAdvice, VmSnapshot } from './types.js';

/** Bisection steps on the advised dirty rate; each halves the interval. */
const MAX_RATE_STEPS = 40;
/** The advice is within this share of the highest rate that fits (it errs low: it always fits). */
const RATE_TOLERANCE = 1e-3;

/** What the non-fitting branch concluded. */
export interface NotFittingOutcome {
  readonly reason: DecisionReason;
  readonly targetRamBytes: number | null;
  readonly waitMs: number | null;
  readonly throttle: ThrottleAdvice | null;
  /** With `throttle`: projected pre-copy time to the target at the advised rate, ms. */
  readonly throttledPrecopyMs: number | null;
  /** The pass plateau `decide()` was given (`precopy-plateau.ts`), or null. */
  readonly plateauBytes: number | null;
}

/**
 * The target is the largest RAM remaining whose bound fits, with devices at their current size.
 * If even no RAM does not fit, devices in PRE_COPY may still shrink: `stop_copy_length` includes
 * their pending pre-copy data (QEMU fix "Fixes: eda7362af959", Avihai Horon, 2024-10-20), so
 * with `initial_bytes + dirty_bytes` drained their size falls by that much. That device data
 * then joins RAM on the pre-copy link (its own dirtying is unknown from one snapshot and is
 * taken to be part of the RAM dirty rate).
 *
 * QEMU's passes (`snapshot.ramPassStartBytes`) that have levelled off above the target
 * (`precopy-plateau.ts`) rule waiting out whatever ρ says: `NOT_CONVERGING`.
 *
 * When waiting does not help, the throttle advice is a pair that works when followed: a dirty
 * rate d and the target T(d) that fits *at that rate* (the final sync carries d × carry bytes,
 * so T shrinks as d grows), such that pre-copy at d reaches T(d) within the budget. d is the
 * highest such rate (bisection; reaching T(d) only gets easier as d falls). No such rate, even 0:
 * `BUDGET_INSUFFICIENT`; no target even at 0: `DEADLINE_UNREACHABLE`.
 */
export function decideNotFitting(
  model: CompiledModel,
  snapshot: VmSnapshot,
  devices: readonly SizedDevice[],
  link: string,
  serial: boolean,
  slo: Slo,
  rho: number,
  budgetLeftMs: number,
): NotFittingOutcome {
  const plateau = precopyPlateauBytes(snapshot.ramPassStartBytes ?? NO_PASSES) ?? null;
  let current = snapshot.ramDirtyBytesPerS;
  let blackoutDevices: readonly BlackoutDevice[] = devices;
  const targetAt = (dirtyBytesPerS: number): number =>
    largestFittingRamBytes(model, { devices: blackoutDevices, ramDirtyBytesPerS: dirtyBytesPerS, link, serial, ...stackOfSnapshot(snapshot, devices), deviceStateMultifd: snapshot.deviceStateMultifd }, slo.alpha, slo.deadlineMs, snapshot.ramRemainingBytes);
  let target = targetAt(current);
  let devicePendingBytes = 0;
  if (target < 0) {
    devicePendingBytes = devicePrecopyPendingBytes(devices);
    if (devicePendingBytes > 0) {
      blackoutDevices = devices.map(withoutPrecopyPending);
      target = targetAt(current);
    }
  }

  const base = {
    remainingBytes: snapshot.ramRemainingBytes + devicePendingBytes,
    dirtyBytesPerS: current,
    bandwidthBytesPerS: snapshot.precopyBandwidthBytesPerS,
  };
  let state: PrecopyState = snapshot.wwsBytes === undefined ? base : { ...base, wwsBytes: snapshot.wwsBytes };
  const limits = { maxTimeMs: budgetLeftMs };
  // Passes levelled off above the target: the AVG projection from ρ would wrongly keep shrinking
  // them (`precopy-plateau.ts`). Each pass re-dirties what it sends, so the guest's effective
  // dirty rate is at least the bandwidth; the throttle advice starts from there.
  const stalled = plateau !== null && plateau > target;
  if (stalled) {
    current = Math.max(current, snapshot.precopyBandwidthBytesPerS);
    state = { ...state, dirtyBytesPerS: current };
  }
  if (target >= 0 && !stalled) {
    const projection = projectPrecopy(state, target, limits);
    if (projection.reachesTarget) {
      return outcome(devicePendingBytes > 0 ? 'DEVICE_PRECOPY_PENDING' : 'CONVERGING', target, projection.timeMs, null, plateau);
    }
  }

  // The bound grows with the dirty rate, so a target that does not exist at today's rate may
  // exist for a throttled guest. Only when even a guest dirtying nothing cannot fit is the
  // deadline out of reach.
  const idleTarget = targetAt(0);
  if (idleTarget < 0) return outcome('DEADLINE_UNREACHABLE', null, null, null, plateau);
  // On a plateau a pass brings back what the guest dirtied during it: the level scales with the
  // dirty rate, so a throttled rate d reaches T(d) only if plateau × d / observed does too.
  const observed = snapshot.ramDirtyBytesPerS;
  const reaches = (dirtyBytesPerS: number, t: number): boolean =>
    t >= 0 && (!stalled || observed <= 0 || ((plateau as number) * dirtyBytesPerS) / observed <= t) && projectPrecopy({ ...state, dirtyBytesPerS }, t, limits).reachesTarget;
  if (!reaches(0, idleTarget)) return outcome('BUDGET_INSUFFICIENT', idleTarget, null, null, plateau);
  // reaches(current, target) is false (checked above, or no target at today's rate).
  let lo = 0;
  let loTarget = idleTarget;
  let hi = current;
  for (let step = 0; step < MAX_RATE_STEPS && hi - lo > Math.max(1, current * RATE_TOLERANCE); step++) {
    const mid = (lo + hi) / 2;
    const t = targetAt(mid);
    if (reaches(mid, t)) {
      lo = mid;
      loTarget = t;
    } else {
      hi = mid;
    }
  }
  const throttle: ThrottleAdvice = {
    maxDirtyBytesPerS: lo,
    currentDirtyBytesPerS: current,
    throttleFraction: current > 0 ? Math.min(1, Math.max(0, 1 - lo / current)) : 0,
  };
  // No RAM target at today's rate: what the final sync carries alone breaks the deadline.
  const reason: DecisionReason = target < 0 ? 'DIRTY_RATE_TOO_HIGH' : rho >= 1 || stalled ? 'NOT_CONVERGING' : 'CONVERGING_TOO_SLOWLY';
  const throttledPrecopyMs = projectPrecopy({ ...state, dirtyBytesPerS: lo }, loTarget, limits).timeMs;
  return { reason, targetRamBytes: loTarget, waitMs: null, throttle, throttledPrecopyMs, plateauBytes: plateau };
}

function outcome(
  reason: DecisionReason,
  targetRamBytes: number | null,
  waitMs: number | null,
  throttle: ThrottleAdvice | null,
  plateauBytes: number | null,
): NotFittingOutcome {
  return { reason, targetRamBytes, waitMs, throttle, throttledPrecopyMs: null, plateauBytes };
}

const NO_PASSES: readonly number[] = Object.freeze([]);

function devicePrecopyPendingBytes(devices: readonly SizedDevice[]): number {
  let sum = 0;
  for (const d of devices) sum += precopyPendingBytes(d);
  return sum;
}

