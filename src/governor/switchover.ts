/**
 * The committed part of a STOP_COPY request: every device stepped along its planned path, arc by
 * arc, with a check before each arc — can the remaining arcs still finish before the deadline,
 * and if not, can going back? The arc into STOP_COPY is the point of no return (mlx5's device
 * command cannot be aborted, and the device state is then produced), so the check runs before it
 * is issued, never after.
 */
import { recoveryAfterFailure, type MigrationDevice } from '../device/index.js';
import type { FittedModel } from '../estimators/types.js';
import { MigState, planPath } from '../fsm/index.js';
import { arcMedianMs, pathMedianMs } from './arc-latency.js';
import { runArc, type ArcRecorder } from './run-arc.js';
import type { ArcRun, DeviceFailure } from './set-state-types.js';
import { homeState } from './unwind.js';

/** Why the forward run stopped before every device reached STOP_COPY. */
export type StopCause = 'ARC_FAILED' | 'OVERRUN';

/** One device's way to STOP_COPY, with the model's medians along it. */
export interface Lane {
  readonly device: MigrationDevice;
  readonly initialState: MigState;
  /** MIG_DATA_SIZE at the decision; recorded with every arc and used for the arc medians. */
  readonly stopCopyBytes: number;
  /** States to step through (`planPath(initialState, STOP_COPY)`). */
  readonly plan: readonly MigState[];
  /** `suffixMs[k]`: Σ median latency of planned arcs k, k+1, ... (`suffixMs[plan.length]` = 0). */
  readonly suffixMs: readonly number[];
  /** `backMs[k]`: median time home from the state reached after k arcs. */
  readonly backMs: readonly number[];
  readonly arcs: ArcRun[];
  /** Arcs issued so far. */
  next: number;
  /** Clock time the arc in flight started, NaN when none is. */
  inFlightSinceMs: number;
  failure: DeviceFailure | null;
}

/** Plans a device's lane to STOP_COPY; `initialState` must be a source state (as `decide()` checks). */
export function planLane(device: MigrationDevice, initialState: MigState, stopCopyBytes: number, model: FittedModel): Lane {
  const plan = planPath(initialState, MigState.STOP_COPY, device.flags);
  const n = plan.length;
  const suffixMs = new Array<number>(n + 1).fill(0);
  const backMs = new Array<number>(n + 1).fill(0);
  let from = initialState;
  const arcMs: number[] = [];
  for (const to of plan) {
    arcMs.push(arcMedianMs(model, device.model, from, to, stopCopyBytes) ?? 0);
    from = to;
  }
  for (let k = n - 1; k >= 0; k--) suffixMs[k] = suffixMs[k + 1]! + arcMs[k]!;
  for (let k = 0; k <= n; k++) {
    const at = k === 0 ? initialState : plan[k - 1]!;
    const way = recoveryAfterFailure(at, device.flags, homeState(at));
    backMs[k] =
      way.kind === 'none' ? 0 : way.kind === 'reset' ? Infinity : pathMedianMs(model, device.model, at, way.path, stopCopyBytes);
  }
  return { device, initialState, stopCopyBytes, plan, suffixMs, backMs, arcs: [], next: 0, inFlightSinceMs: NaN, failure: null };
}

/** Timing of one committed switchover. */
export interface SwitchoverTiming {
  /** Clock time the deadline counts from, ms. */
  readonly startedAtMs: number;
  readonly deadlineMs: number;
  /**
   * Predicted median of the blackout after the device arcs (transfer, destination load, restart),
   * ms: the decision's median minus the lanes' arcs, so at the start the check agrees with the
   * decision exactly.
   */
  readonly reserveMs: number;
  readonly serial: boolean;
}

/** The blackout median minus the median of the lanes' arcs (combined in parallel or in series). */
export function reserveAfterArcs(medianBlackoutMs: number, lanes: readonly Lane[], serial: boolean): number {
  let arcs = 0;
  for (const lane of lanes) arcs = serial ? arcs + lane.suffixMs[0]! : Math.max(arcs, lane.suffixMs[0]!);
  return medianBlackoutMs - arcs;
}

/**
 * Steps every lane to STOP_COPY (in parallel or in series). Resolves with `null` when all got
 * there, or with why it stopped: an arc failed, or before some arc the median finish was past
 * the deadline while the median way home was not. Lanes stopped mid-way stay where they are;
 * the caller brings them back.
 */
export async function runForward(lanes: readonly Lane[], timing: SwitchoverTiming, rec: ArcRecorder): Promise<StopCause | null> {
  const state: { cause: StopCause | null } = { cause: null };
  if (timing.serial) {
    for (const lane of lanes) {
      await stepLane(lane, lanes, timing, rec, state);
      if (state.cause !== null) break;
    }
  } else {
    await Promise.all(lanes.map((lane) => stepLane(lane, lanes, timing, rec, state)));
  }
  return state.cause;
}

async function stepLane(
  lane: Lane,
  lanes: readonly Lane[],
  timing: SwitchoverTiming,
  rec: ArcRecorder,
  state: { cause: StopCause | null },
): Promise<void> {
  while (lane.next < lane.plan.length) {
    if (state.cause !== null) return;
    const now = rec.clock.nowMs;
    if (shouldTurnBack(lanes, timing, now)) {
      state.cause = 'OVERRUN';
      return;
    }
    const from = lane.next === 0 ? lane.initialState : lane.plan[lane.next - 1]!;
    const to = lane.plan[lane.next]!;
    lane.next++;
    lane.inFlightSinceMs = now;
    const attempt = await runArc(lane.device, from, to, lane.stopCopyBytes, 'forward', rec);
    lane.inFlightSinceMs = NaN;
    lane.arcs.push(attempt.run);
    if (attempt.failure !== null) {
      lane.failure = attempt.failure;
      // A failed arc explains more than an overrun seen meanwhile on another device.
      state.cause = 'ARC_FAILED';
      return;
    }
  }
}

/**
 * True when finishing can no longer meet the deadline (median of what is left of every lane,
 * plus the reserve) but going home can (median way back of every lane). When neither can,
 * finishing is better: the migration at least completes.
 */
export function shouldTurnBack(lanes: readonly Lane[], timing: SwitchoverTiming, nowMs: number): boolean {
  let finishMs = 0;
  let backMs = 0;
  for (const lane of lanes) {
    const inFlightLeftMs = Number.isNaN(lane.inFlightSinceMs)
      ? 0
      : inFlightLeft(lane.suffixMs[lane.next - 1]! - lane.suffixMs[lane.next]!, nowMs - lane.inFlightSinceMs);
    const finish = inFlightLeftMs + lane.suffixMs[lane.next]!;
    const back = inFlightLeftMs + lane.backMs[lane.next]!;
    if (timing.serial) {
      finishMs += finish;
      backMs += back;
    } else {
      finishMs = Math.max(finishMs, finish);
      backMs = Math.max(backMs, back);
    }
  }
  const elapsedMs = nowMs - timing.startedAtMs;
  return elapsedMs + finishMs + timing.reserveMs > timing.deadlineMs && elapsedMs + backMs <= timing.deadlineMs;
}

/**
 * Median time left of an arc in flight for `spentMs`, whose median is `medianMs`. Before the
 * median: the rest of it. Past it, the arc is in its tail, and arc latencies are heavy-tailed
 * (published-numbers.md §9.3: rare spikes of 20× the median): a Pareto tail of shape 1 has
 * conditional median 2 × the time already spent, so we expect it to overrun again by as much as
 * it has overrun so far. Counting 0 there would let the other devices of a VM step into STOP_COPY
 * while one of them is stuck.
 */
export function inFlightLeft(medianMs: number, spentMs: number): number {
  return spentMs <= medianMs ? medianMs - spentMs : spentMs - medianMs;
}
