/**
 * The branch of `decide()` where the bound does not fit the deadline yet: will waiting help
 * (pre-copy converging to a fitting size within the budget), would throttling the guest, or
 * neither? The pre-copy maths is `estimators/precopy.ts` (AVG model, Akoush et al. 2010); this
 * file only asks it the right questions.
 */
import type { CompiledModel } from '../estimators/predict.js';
import { maxDirtyRateForTarget, projectPrecopy, type PrecopyState } from '../estimators/precopy.js';
import type { BlackoutDevice } from '../estimators/types.js';
import { largestFittingRamBytes } from './ram-target.js';
import { precopyPendingBytes, type SizedDevice } from './snapshot-devices.js';
import type { DecisionReason, Slo, ThrottleAdvice, VmSnapshot } from './types.js';

/** What the non-fitting branch concluded. */
export interface NotFittingOutcome {
  readonly reason: DecisionReason;
  readonly targetRamBytes: number | null;
  readonly waitMs: number | null;
  readonly throttle: ThrottleAdvice | null;
}

/**
 * The target is the largest RAM remaining whose bound fits, with devices at their current size.
 * If even no RAM does not fit, devices in PRE_COPY may still shrink: `stop_copy_length` includes
 * their pending pre-copy data (QEMU fix "Fixes: eda7362af959", Avihai Horon, 2024-10-20), so
 * with `initial_bytes + dirty_bytes` drained their size falls by that much. That device data
 * then joins RAM on the pre-copy link (its own dirtying is unknown from one snapshot and is
 * taken to be part of the RAM dirty rate).
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
  let target = largestFittingRamBytes(model, { devices, ramDirtyBytesPerS: snapshot.ramDirtyBytesPerS, link, serial }, slo.alpha, slo.deadlineMs, snapshot.ramRemainingBytes);
  let devicePendingBytes = 0;
  if (target < 0) {
    devicePendingBytes = devicePrecopyPendingBytes(devices);
    if (devicePendingBytes > 0) {
      const drained = devices.map(withoutPrecopyPending);
      target = largestFittingRamBytes(model, { devices: drained, ramDirtyBytesPerS: snapshot.ramDirtyBytesPerS, link, serial }, slo.alpha, slo.deadlineMs, snapshot.ramRemainingBytes);
    }
  }
  // The bound grows with the dirty rate (the final sync carries what was dirtied since the last
  // one), so a target that does not exist at today's rate may exist for a throttled guest. Only
  // when even a guest dirtying nothing cannot fit is the deadline out of reach.
  let throttleOnly = false;
  if (target < 0) {
    const q = { devices: devicePendingBytes > 0 ? devices.map(withoutPrecopyPending) : devices, ramDirtyBytesPerS: 0, link, serial };
    target = largestFittingRamBytes(model, q, slo.alpha, slo.deadlineMs, snapshot.ramRemainingBytes);
    if (target < 0) return outcome('DEADLINE_UNREACHABLE', null, null, null);
    throttleOnly = true;
  }

  const base = {
    remainingBytes: snapshot.ramRemainingBytes + devicePendingBytes,
    dirtyBytesPerS: snapshot.ramDirtyBytesPerS,
    bandwidthBytesPerS: snapshot.precopyBandwidthBytesPerS,
  };
  const state: PrecopyState = snapshot.wwsBytes === undefined ? base : { ...base, wwsBytes: snapshot.wwsBytes };
  const limits = { maxTimeMs: budgetLeftMs };
  if (!throttleOnly) {
    const projection = projectPrecopy(state, target, limits);
    if (projection.reachesTarget) {
      return outcome(devicePendingBytes > 0 ? 'DEVICE_PRECOPY_PENDING' : 'CONVERGING', target, projection.timeMs, null);
    }
  }

  const maxDirtyBytesPerS = maxDirtyRateForTarget(state, target, budgetLeftMs);
  if (maxDirtyBytesPerS <= 0 && !projectPrecopy({ ...state, dirtyBytesPerS: 0 }, target, limits).reachesTarget) {
    return outcome('BUDGET_INSUFFICIENT', target, null, null);
  }
  const current = snapshot.ramDirtyBytesPerS;
  const throttle: ThrottleAdvice = {
    maxDirtyBytesPerS,
    currentDirtyBytesPerS: current,
    throttleFraction: current > 0 ? Math.min(1, Math.max(0, 1 - maxDirtyBytesPerS / current)) : 0,
  };
  return outcome(rho >= 1 ? 'NOT_CONVERGING' : 'CONVERGING_TOO_SLOWLY', target, null, throttle);
}

function outcome(
  reason: DecisionReason,
  targetRamBytes: number | null,
  waitMs: number | null,
  throttle: ThrottleAdvice | null,
): NotFittingOutcome {
  return { reason, targetRamBytes, waitMs, throttle };
}

function devicePrecopyPendingBytes(devices: readonly SizedDevice[]): number {
  let sum = 0;
  for (const d of devices) sum += precopyPendingBytes(d);
  return sum;
}

function withoutPrecopyPending(d: SizedDevice): BlackoutDevice {
  return { id: d.id, model: d.model, state: d.state, flags: d.flags, stopCopyBytes: d.stopCopyBytes - precopyPendingBytes(d) };
}
