/**
 * The committed part of a STOP_COPY request: every device stepped along its planned path in the
 * phases of `phases.ts` (all quiesced before any stops), with a check at every point where no arc
 * is in flight — before each phase, and in series before each arc: can the rest still finish
 * before the deadline, and if not, can going back?
 *
 * The point of no return is the first arc into STOP_COPY, on any device: from there the device
 * produces its final state, and the way back (STOP_COPY → STOP → … → RUNNING) ends its pre-copy
 * session. The check therefore turns back only while no device has been asked for STOP_COPY;
 * after that the switchover finishes (unless an arc fails). Because devices stop in one phase, a
 * turn-back holds for all of them at once.
 */
import { recoveryAfterFailure, type MigrationDevice } from '../device/index.js';
import type { FittedModel } from '../estimators/types.js';
import { MigState, planPath } from '../fsm/index.js';
import { arcMedianMs } from './arc-latency.js';
import { PHASE_ORDER, phasedLane, phasesOf, runPhases, type PhasedLane } from './phases.js';
import type { ArcRecorder } from './run-arc.js';
import type { ArcRun } from './set-state-types.js';
import { homeState } from './unwind.js';

/** Why the forward run stopped before every device reached STOP_COPY. */
export type StopCause = 'ARC_FAILED' | 'OVERRUN';

/** One device's way to STOP_COPY, with the model's median for every arc of it. */
export interface Lane extends PhasedLane {
  readonly initialState: MigState;
  /** Median latency of each planned arc, ms (0 where the model lacks the arc). */
  readonly arcMs: readonly number[];
}

/** Plans a device's lane to STOP_COPY; `initialState` must be a source state (as `decide()` checks). */
export function planLane(device: MigrationDevice, initialState: MigState, stopCopyBytes: number, model: FittedModel, arcs: ArcRun[] = []): Lane {
  const plan = planPath(initialState, MigState.STOP_COPY, device.flags);
  const arcMs: number[] = [];
  let from = initialState;
  for (const to of plan) {
    arcMs.push(arcMedianMs(model, device.model, from, to, stopCopyBytes) ?? 0);
    from = to;
  }
  return { ...phasedLane(device, initialState, plan, stopCopyBytes, arcs), initialState, arcMs };
}

/** Timing of one committed switchover. */
export interface SwitchoverTiming {
  /** Clock time the deadline counts from (before `onCommit` pauses the vCPUs), ms. */
  readonly startedAtMs: number;
  readonly deadlineMs: number;
  /**
   * Predicted median of the blackout after the device arcs (transfer, destination load,
   * restart), ms: see {@link reserveAfterArcs}.
   */
  readonly reserveMs: number;
  readonly serial: boolean;
  /** For the medians of the way home, worked out only when finishing no longer fits. */
  readonly model: FittedModel;
}

/**
 * What the blackout median leaves for after the device arcs, ms: the decision's median minus its
 * vCPU stop part (`onCommit` has spent that already, and the clock counts it from `startedAtMs`)
 * minus the lanes' arcs combined as the prediction combines them (the longest lane in parallel,
 * their sum in series), so the first check agrees with the decision.
 */
export function reserveAfterArcs(medianBlackoutMs: number, vcpuStopMedianMs: number, lanes: readonly Lane[], serial: boolean): number {
  let arcs = 0;
  for (const lane of lanes) {
    const total = lane.arcMs.reduce((a, b) => a + b, 0);
    arcs = serial ? arcs + total : Math.max(arcs, total);
  }
  return medianBlackoutMs - vcpuStopMedianMs - arcs;
}

/** True once an arc into STOP_COPY was issued on some device (or one started there). */
export function pastPointOfNoReturn(lanes: readonly Lane[]): boolean {
  return lanes.some((l) => l.initialState === MigState.STOP_COPY || l.arcs.some((a) => a.to === MigState.STOP_COPY));
}

/**
 * Steps every lane to STOP_COPY in phases. Resolves with `null` when all got there, or with why
 * it stopped: an arc failed (the phase in flight finishes first), or before the point of no
 * return the median finish was past the deadline while the median way home was not. Lanes
 * stopped mid-way stay where they are; the caller brings them back.
 */
export async function runForward(lanes: readonly Lane[], timing: SwitchoverTiming, rec: ArcRecorder): Promise<StopCause | null> {
  const end = await runPhases(lanes, {
    serial: timing.serial,
    rec,
    direction: 'forward',
    stopOnFailure: true,
    stopBefore: () => !pastPointOfNoReturn(lanes) && shouldTurnBack(lanes, timing, rec.clock.nowMs),
  });
  return end === 'done' ? null : end === 'failed' ? 'ARC_FAILED' : 'OVERRUN';
}

/**
 * True when finishing can no longer meet the deadline (median of what is left, phase by phase,
 * plus the reserve) but going home can (median of the way back, phase by phase). When neither
 * can, finishing is better: the migration at least completes. Called only between arcs.
 */
export function shouldTurnBack(lanes: readonly Lane[], timing: SwitchoverTiming, nowMs: number): boolean {
  const elapsedMs = nowMs - timing.startedAtMs;
  if (elapsedMs + phasedMs(lanes, timing.serial, aheadOf) + timing.reserveMs <= timing.deadlineMs) return false;
  return elapsedMs + phasedMs(lanes, timing.serial, (lane) => wayHome(lane.device, lane.at, lane.stopCopyBytes, timing.model)) <= timing.deadlineMs;
}

const PHASES = PHASE_ORDER.length;
/** Scratch per check (a check runs between arcs, never concurrently with another). */
const laneMs = new Float64Array(PHASES);
const longest = new Float64Array(PHASES);

/** The arcs a lane has left, as flat (phase, median ms) pairs. */
export function aheadOf(lane: Lane): number[] {
  const out: number[] = [];
  for (let k = lane.next; k < lane.plan.length; k++) out.push(lane.phases[k]!, lane.arcMs[k]!);
  return out;
}

/**
 * Median time of arcs run in phases, ms, given each lane's arcs as flat (phase, median ms)
 * pairs: in series the sum of every arc; in parallel, per phase the longest device's share of
 * it, summed over the phases (a phase ends when its slowest device does).
 */
export function phasedMs(lanes: readonly Lane[], serial: boolean, arcsOf: (lane: Lane) => readonly number[]): number {
  longest.fill(0);
  let sum = 0;
  for (const lane of lanes) {
    const arcs = arcsOf(lane);
    laneMs.fill(0);
    for (let i = 0; i < arcs.length; i += 2) {
      laneMs[arcs[i]!]! += arcs[i + 1]!;
      sum += arcs[i + 1]!;
    }
    for (let p = 0; p < PHASES; p++) longest[p] = Math.max(longest[p]!, laneMs[p]!);
  }
  if (serial) return sum;
  let total = 0;
  for (let p = 0; p < PHASES; p++) total += longest[p]!;
  return total;
}

/** The way home from `at` as flat (phase, median ms) pairs; `[0, Infinity]` when only a reset gets there. */
export function wayHome(device: MigrationDevice, at: MigState, stopCopyBytes: number, model: FittedModel): number[] {
  const way = recoveryAfterFailure(at, device.flags, homeState(at));
  if (way.kind === 'none') return [];
  if (way.kind === 'reset') return [0, Infinity];
  const phases = phasesOf(at, way.path);
  const out: number[] = [];
  let from = at;
  way.path.forEach((to, i) => {
    // Arcs the model lacks count 0: an unknown arc should not keep the governor from bringing a VM home.
    out.push(phases[i]!, arcMedianMs(model, device.model, from, to, stopCopyBytes) ?? 0);
    from = to;
  });
  return out;
}
