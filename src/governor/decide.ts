/**
 * `decide()`: commit to STOP_COPY now, keep pre-copying, throttle the guest, or give up — the
 * userspace version of the deadline the kernel list proposed to pass with SET_STATE (Feb 2022
 * seed thread, `shared/specs/vfio-uapi.md`): "check the migration size and do the maths before
 * committing to the unabortable device command", for any VFIO device, from learned per-arc
 * latencies.
 *
 * Pure and synchronous: no I/O, no clock, no randomness. On the commit path it allocates the
 * blackout query and the result only (the prediction's parts become the breakdown as they are).
 */
import { stackOfSnapshot } from './snapshot-stack.js';
import { MigState } from '../fsm/index.js';
import { predictBlackout, type CompiledModel } from '../estimators/predict.js';
import { convergenceRatio } from '../estimators/precopy.js';
import { channelLinkName } from '../estimators/channels.js';
import type { BlackoutDevice, BlackoutPrediction } from '../estimators/types.js';
import { QEMU_FAILED_SIZE_QUERY_BYTES } from '../facts/qemu.js';
import { GovernorError } from './errors.js';
import { decideNotFitting } from './not-fitting.js';
import { stopCopyOnlyCulprits } from './stop-copy-only.js';
import { ackPending, ackWaitMs } from './switchover-ack.js';
import { totalTime, type TotalTime } from './total-time.js';
import { idsWhere, isInError, isSourceState, isUnknownState, pendingInitialBytes, sizeFailed, sizesKnown } from './snapshot-devices.js';
import { REASON_ACTIONS, type BindingLimit, type Decision, type DecisionReason, type DeviceSnapshot, type Slo, type SwitchoverAck, type ThrottleAdvice, type VmSnapshot } from './types.js';

/**
 * QEMU's `VFIO_MIG_STOP_COPY_SIZE` (`hw/vfio/migration.c`): the size `vfio_state_pending_exact()`
 * reports when MIG_DATA_SIZE fails, "so downtime limit won't be violated". We substitute it too,
 * so the breakdown shows what the failed query would cost, and in addition never commit.
 */
export const FAILED_SIZE_QUERY_BYTES = QEMU_FAILED_SIZE_QUERY_BYTES;

const NO_IDS: readonly string[] = Object.freeze([]);
const NO_PARTS: Decision['breakdown'] = Object.freeze([]);
const UNKNOWN_TOTAL: TotalTime = Object.freeze({ medianMs: NaN, boundMs: NaN });
/** Marks a commit: the time to completion is the blackout's (no object allocated per commit). */
const BLACKOUT_TOTAL: TotalTime = Object.freeze({ medianMs: NaN, boundMs: NaN });

/**
 * Decides what to do with a VM in pre-copy, given a compiled model and the SLO:
 * - `commit` when the 1 − α blackout bound fits `slo.deadlineMs` (and PRE_COPY initial bytes
 *   are drained, as `include/uapi/linux/vfio.h` recommends, unless waiting cannot help);
 * - `wait` when it does not fit yet but pre-copy converges (ρ < 1) to a fitting size within
 *   the budget, or a size query failed;
 * - `throttle` when it does not fit and will not by waiting: with the dirty rate that would;
 * - `abort` when the budget is spent or cannot suffice, a device is in ERROR or an unknown state,
 *   the model lacks a device/arc, or even an empty RAM would not fit.
 *
 * The bound is held to the lower of `slo.deadlineMs` and `slo.guestTimeoutMs` (`bindingLimit`
 * says which). With switchover-ack pending (`snapshot.switchoverAck`) it never commits
 * (`SWITCHOVER_ACK_PENDING`), and `waitMs` covers sending and loading the initial bytes.
 *
 * Never `commit` with a missing model or a failed size query. Throws {@link GovernorError} for an
 * SLO or snapshot that cannot describe a migration (`E_BAD_SLO`, `E_BAD_SNAPSHOT`).
 */
export function decide(snapshot: VmSnapshot, model: CompiledModel, slo: Slo): Decision {
  checkSlo(slo);
  checkSnapshot(snapshot);
  const rho = convergenceRatio(snapshot.ramDirtyBytesPerS, snapshot.precopyBandwidthBytesPerS);
  const budgetLeftMs = slo.budgetMs - snapshot.elapsedMs;
  const devices = snapshot.devices;

  for (let i = 0; i < devices.length; i++) {
    const device = devices[i]!;
    if (device.state === MigState.ERROR) {
      return unpredicted('DEVICE_ERROR', slo, rho, budgetLeftMs, idsWhere(devices, isInError));
    }
    if (!isSourceState(device)) {
      return unpredicted('DEVICE_STATE_UNKNOWN', slo, rho, budgetLeftMs, idsWhere(devices, isUnknownState));
    }
  }
  if (!(budgetLeftMs > 0)) return unpredicted('BUDGET_SPENT', slo, rho, budgetLeftMs, NO_IDS);

  // The link at the VMM's multifd channel count (`channels.ts`): fitted per (link, channels).
  const link = channelLinkName(snapshot.link ?? 'default', snapshot.multifdChannels);
  const serial = snapshot.serial ?? false;
  if (!sizesKnown(devices)) {
    const prediction = predictFor(model, snapshot, devices.map(assumeFailedSize), link, serial, slo.alpha);
    if (prediction.missing.length > 0) return predicted('MODEL_MISSING', prediction, slo, rho, budgetLeftMs, NO_IDS);
    return predicted('SIZE_QUERY_FAILED', prediction, slo, rho, budgetLeftMs, idsWhere(devices, sizeFailed));
  }

  const prediction = predictFor(model, snapshot, devices, link, serial, slo.alpha);
  if (prediction.missing.length > 0) return predicted('MODEL_MISSING', prediction, slo, rho, budgetLeftMs, NO_IDS);

  const limit = bindingSlo(slo);
  if (prediction.boundMs <= limit.deadlineMs) {
    // QEMU will not stop the VM before the ack (`migration_can_switchover()`), whatever the budget.
    if (ackPending(snapshot)) {
      const waitMs = ackWaitMs(model, snapshot, devices, link, serial, slo.alpha);
      const total = totalTime(prediction, waitMs, limit.deadlineMs, budgetLeftMs, model, slo.alpha);
      return build('SWITCHOVER_ACK_PENDING', prediction, slo, rho, budgetLeftMs, NO_IDS, null, waitMs, null, total);
    }
    const initialBytes = pendingInitialBytes(devices);
    if (initialBytes === 0) return committed('FITS', prediction, slo, rho, budgetLeftMs);
    // Draining initial data shares the pre-copy link; while it drains RAM must not grow (ρ ≤ 1).
    const drainMs = snapshot.precopyBandwidthBytesPerS > 0 ? (initialBytes / snapshot.precopyBandwidthBytesPerS) * 1000 : Infinity;
    if (drainMs <= budgetLeftMs && rho <= 1) {
      const total = totalTime(prediction, drainMs, limit.deadlineMs, budgetLeftMs, model, slo.alpha);
      return build('INITIAL_BYTES_PENDING', prediction, slo, rho, budgetLeftMs, NO_IDS, null, drainMs, null, total);
    }
    return committed('FITS_INITIAL_UNDRAINED', prediction, slo, rho, budgetLeftMs);
  }

  const next = decideNotFitting(model, snapshot, devices, link, serial, limit, rho, budgetLeftMs);
  if (next.reason === 'DEADLINE_UNREACHABLE') {
    const culprits = stopCopyOnlyCulprits(model, devices, link, slo.alpha, limit.deadlineMs, snapshot);
    if (culprits.length > 0) return build('STOP_COPY_ONLY_DEVICE_TOO_SLOW', prediction, slo, rho, budgetLeftMs, culprits, null, null, null, UNKNOWN_TOTAL, next.plateauBytes);
  }
  const waitMs = next.waitMs !== null && ackPending(snapshot) ? Math.max(next.waitMs, ackWaitMs(model, snapshot, devices, link, serial, slo.alpha)) : next.waitMs;
  const total = totalTime(prediction, waitMs ?? next.throttledPrecopyMs, limit.deadlineMs, budgetLeftMs, model, slo.alpha);
  return build(next.reason, prediction, slo, rho, budgetLeftMs, NO_IDS, next.targetRamBytes, waitMs, next.throttle, total, next.plateauBytes);
}

/** The SLO with the limit that binds as its deadline: a guest timeout below the deadline replaces it. */
function bindingSlo(slo: Slo): Slo {
  return bindingLimitOf(slo) === 'guest-timeout' ? { deadlineMs: slo.guestTimeoutMs as number, alpha: slo.alpha, budgetMs: slo.budgetMs } : slo;
}

function bindingLimitOf(slo: Slo): BindingLimit {
  return slo.guestTimeoutMs !== undefined && slo.guestTimeoutMs < slo.deadlineMs ? 'guest-timeout' : 'deadline';
}

function predictFor(
  model: CompiledModel,
  s: VmSnapshot,
  devices: readonly BlackoutDevice[],
  link: string,
  serial: boolean,
  alpha: number,
): BlackoutPrediction {
  return predictBlackout(model, { devices, ramRemainingBytes: s.ramRemainingBytes, ramDirtyBytesPerS: s.ramDirtyBytesPerS, link, serial, ...stackOfSnapshot(s, devices), deviceStateMultifd: s.deviceStateMultifd }, alpha);
}

function checkSlo(slo: Slo): void {
  if (!(slo.deadlineMs > 0) || slo.deadlineMs === Infinity) {
    throw new GovernorError('E_BAD_SLO', `deadlineMs must be a finite number > 0, got ${String(slo.deadlineMs)}`);
  }
  if (!(slo.alpha > 0 && slo.alpha < 1)) throw new GovernorError('E_BAD_SLO', `alpha must be in (0, 1), got ${String(slo.alpha)}`);
  if (!(slo.budgetMs >= 0)) throw new GovernorError('E_BAD_SLO', `budgetMs must be ≥ 0 (Infinity for none), got ${String(slo.budgetMs)}`);
  if (slo.guestTimeoutMs !== undefined && !(slo.guestTimeoutMs > 0)) {
    throw new GovernorError('E_BAD_SLO', `guestTimeoutMs must be > 0 (absent for none), got ${String(slo.guestTimeoutMs)}`);
  }
}

function checkSnapshot(s: VmSnapshot): void {
  if (!isFiniteNonNegative(s.ramRemainingBytes) || !isFiniteNonNegative(s.ramDirtyBytesPerS) ||
    !isFiniteNonNegative(s.precopyBandwidthBytesPerS) || !isFiniteNonNegative(s.elapsedMs) ||
    (s.wwsBytes !== undefined && !(s.wwsBytes >= 0)) || (s.ramPassStartBytes !== undefined && !s.ramPassStartBytes.every(isFiniteNonNegative))) {
    throw new GovernorError(
      'E_BAD_SNAPSHOT',
      `RAM figures and elapsed time must be finite and ≥ 0: ramRemainingBytes=${String(s.ramRemainingBytes)}, ` +
        `ramDirtyBytesPerS=${String(s.ramDirtyBytesPerS)}, precopyBandwidthBytesPerS=${String(s.precopyBandwidthBytesPerS)}, ` +
        `elapsedMs=${String(s.elapsedMs)}, wwsBytes=${String(s.wwsBytes)}` +
        (s.ramPassStartBytes === undefined ? '' : `, ramPassStartBytes=[${s.ramPassStartBytes.join(', ')}]`),
    );
  }
  if (s.switchoverAck !== undefined && !SWITCHOVER_ACK_STATES.includes(s.switchoverAck)) {
    throw new GovernorError('E_BAD_SNAPSHOT', `switchoverAck must be one of ${SWITCHOVER_ACK_STATES.join(', ')}, got ${String(s.switchoverAck)}`);
  }
}

const SWITCHOVER_ACK_STATES: readonly SwitchoverAck[] = ['not-required', 'pending', 'received'];

function isFiniteNonNegative(x: number): boolean {
  return x >= 0 && x !== Infinity;
}

function assumeFailedSize(d: DeviceSnapshot): BlackoutDevice {
  const stopCopyBytes = d.stopCopyBytes !== null && !sizeFailed(d) ? d.stopCopyBytes : FAILED_SIZE_QUERY_BYTES;
  return { id: d.id, model: d.model, state: d.state, flags: d.flags, stopCopyBytes };
}

function unpredicted(reason: DecisionReason, slo: Slo, rho: number, budgetLeftMs: number, ids: readonly string[]): Decision {
  return build(reason, null, slo, rho, budgetLeftMs, ids, null, null, null, UNKNOWN_TOTAL);
}

/** A decision that does not expect the migration to complete from here (no time to completion). */
function predicted(reason: DecisionReason, p: BlackoutPrediction, slo: Slo, rho: number, budgetLeftMs: number, ids: readonly string[]): Decision {
  return build(reason, p, slo, rho, budgetLeftMs, ids, null, null, null, UNKNOWN_TOTAL);
}

/** A commit: the time to completion is the blackout. */
function committed(reason: DecisionReason, p: BlackoutPrediction, slo: Slo, rho: number, budgetLeftMs: number): Decision {
  return build(reason, p, slo, rho, budgetLeftMs, NO_IDS, null, null, null, BLACKOUT_TOTAL);
}

/** The one place a Decision is made: every field, always in the same order (one hidden class). */
function build(
  reason: DecisionReason,
  p: BlackoutPrediction | null,
  slo: Slo,
  rho: number,
  budgetLeftMs: number,
  reasonDeviceIds: readonly string[],
  targetRamBytes: number | null,
  waitMs: number | null,
  throttle: ThrottleAdvice | null,
  total: TotalTime,
  precopyPlateauBytes: number | null = null,
): Decision {
  return {
    action: REASON_ACTIONS[reason],
    reason,
    predictedBlackoutMs: p === null ? NaN : p.boundMs,
    medianBlackoutMs: p === null ? NaN : p.medianMs,
    deadlineMs: slo.deadlineMs,
    guestTimeoutMs: slo.guestTimeoutMs ?? null,
    bindingLimit: bindingLimitOf(slo),
    alpha: slo.alpha,
    calibrated: p === null ? false : p.calibrated,
    calibrationGroup: p === null ? null : p.calibrationGroup,
    breakdown: p === null ? NO_PARTS : p.parts,
    missing: p === null ? NO_IDS : p.missing,
    reasonDeviceIds,
    rho,
    budgetLeftMs,
    targetRamBytes,
    waitMs,
    throttle,
    precopyPlateauBytes,
    medianTotalMs: total === BLACKOUT_TOTAL && p !== null ? p.medianMs : total.medianMs,
    predictedTotalMs: total === BLACKOUT_TOTAL && p !== null ? p.boundMs : total.boundMs,
  };
}
