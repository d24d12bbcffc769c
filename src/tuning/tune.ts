/**
 * `tune()`: which QEMU knobs make a migration meet its blackout deadline within its time budget,
 * at the least cost to the guest — the other half of the SLA problem the kernel list named next
 * to the switchover decision (dirty-rate limiting; ST §3, §7 "control actions that exist").
 *
 * For each allowed mechanism it finds the gentlest setting that is predicted to work:
 * - dirty-limit: the largest `vcpu-dirty-limit` (whole MiB/s, by bisection — a lower quota only
 *   converges sooner);
 * - auto-converge: the lowest `max-cpu-throttle` that works, then the gentlest ramp
 *   (`cpu-throttle-initial`, `cpu-throttle-increment`) under it;
 * and recommends the one that takes the least vCPU time from the guest (`gentler`). Every
 * setting comes with the `downtime-limit` / `avail-switchover-bandwidth` that make QEMU switch
 * exactly when our bound fits (`switchover-knobs.ts`), and its predicted rounds, times and
 * blackout. When nothing meets both the deadline and the budget, the answer says why and gives
 * the Pareto table of throttle vs time vs blackout (`pareto.ts`).
 *
 * The predictions are a plan, on the safe side: for the measured dirty rate plus a margin, and
 * for the pass by which QEMU will have switched over with 90 % probability. The gentlest setting
 * that fits the budget sits where convergence is slow (ρ under the throttle close to 1), which is
 * where time is most sensitive to the dirty rate: expect real pre-copy to finish sooner than
 * planned more often than later (the fleet validation measured a median 0.05–0.14 × the plan).
 *
 * Pure: no I/O, no clock; the model comes in compiled.
 */
// simple-statistics' max loops: a spread Math.max(...rates) overflows the stack past ~100k vCPUs.
import { max } from 'simple-statistics';
import { convergenceRatio } from '../estimators/precopy.js';
import { TuningError } from './errors.js';
import { evaluate, isFeasible, recommendation, tuneContext, type Evaluation, type TuneContext } from './evaluate.js';
import { tradeOffs } from './pareto.js';
import { checkWorkload } from './precopy-run.js';
import { DEFAULT_LINK } from '../estimators/types.js';
import { stopCopyOnlyCulprits } from '../governor/stop-copy-only.js';
import { MiB, QEMU_AUTO_CONVERGE, QEMU_DIRTY_LIMIT } from '../facts/qemu.js';
import { dirtyLimitForVmRate, vcpuRates, vmRateUnderDirtyLimit } from './throttle.js';
import type { Recommendation, ThrottleMechanism, ThrottleSetting, TuneInput, TuneReason, TuneResult } from './types.js';

const NONE: ThrottleSetting = Object.freeze({ kind: 'none' });
/** Default {@link TuneInput.dirtyRateMargin}. */
export const DEFAULT_DIRTY_RATE_MARGIN = 0.1;
const ALL_MECHANISMS: readonly ThrottleMechanism[] = ['none', 'auto-converge', 'dirty-limit'];

/** `cpu-throttle-initial` values tried below the cap (%): QEMU's default 20 among them. */
const AUTO_CONVERGE_INITIALS: readonly number[] = [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95];
/** `cpu-throttle-increment` values tried (%): QEMU's default 10 among them. */
const AUTO_CONVERGE_INCREMENTS: readonly number[] = [5, 10, 20];
/** Throttle caps of the trade-off table (auto-converge with `max-cpu-throttle` = initial), %. */
const TRADE_OFF_CPU_PCTS: readonly number[] = [10, 20, 30, 40, 50, 60, 70, 80, 90, 99];
/** VM dirty-rate shares the trade-off table's dirty-limit rows aim at. */
const TRADE_OFF_RATE_SHARES: readonly number[] = [0.9, 0.75, 0.5, 0.35, 0.2, 0.1, 0.05];

function checkInput(i: TuneInput): void {
  checkWorkload(i);
  const bad = (what: string): never => {
    throw new TuningError('E_BAD_INPUT', what);
  };
  if (!(i.deadlineMs > 0) || !Number.isFinite(i.deadlineMs)) bad(`deadlineMs must be a finite number > 0, got ${String(i.deadlineMs)}`);
  if (!(i.budgetMs > 0)) bad(`budgetMs must be > 0, got ${String(i.budgetMs)}`);
  if (!(i.alpha > 0 && i.alpha < 1)) bad(`alpha must be in (0, 1), got ${String(i.alpha)}`);
  for (const d of i.devices) {
    if (!(d.stopCopyBytes >= 0) || !Number.isFinite(d.stopCopyBytes)) bad(`device ${d.id}: stopCopyBytes must be finite and ≥ 0, got ${String(d.stopCopyBytes)}`);
  }
  const t = i.triggerThresholdPct;
  if (t !== undefined && !(t >= 1 && t <= 100)) bad(`triggerThresholdPct must be in [1, 100], got ${String(t)}`);
  if (i.vcpus !== undefined && !(Number.isInteger(i.vcpus) && i.vcpus >= 1)) bad(`vcpus must be an integer ≥ 1, got ${String(i.vcpus)}`);
  const m = i.dirtyRateMargin;
  if (m !== undefined && !(m >= 0 && m <= 10)) bad(`dirtyRateMargin must be in [0, 10], got ${String(m)}`);
}

/** A setting of the knob value `x` (an integer), evaluated within the budget. */
type Probe = (x: number) => Evaluation;

/**
 * Bisection on an integer knob whose feasibility is monotone: from a feasible `good` toward an
 * infeasible `bad` (either side), the feasible value nearest `bad` with its evaluation; null when
 * `good` itself is not feasible.
 */
function feasibleEdge(probe: Probe, good: number, bad: number): { readonly value: number; readonly e: Evaluation } | null {
  let e = probe(good);
  if (!isFeasible(e)) return null;
  while (Math.abs(bad - good) > 1) {
    const mid = Math.floor((good + bad) / 2);
    const m = probe(mid);
    if (isFeasible(m)) {
      good = mid;
      e = m;
    } else bad = mid;
  }
  return { value: good, e };
}

/** The largest whole-MiB/s quota that is feasible, or null (a lower quota only converges sooner). */
function bestDirtyLimit(ctx: TuneContext, rates: readonly number[]): Evaluation | null {
  const probe: Probe = (mib) => evaluate(ctx, { kind: 'dirty-limit', vcpuLimitBytesPerS: mib * MiB }, ctx.input.budgetMs);
  const min = QEMU_DIRTY_LIMIT.minVcpuLimitMiBPerS;
  // Above the hottest vCPU's rate a quota changes nothing.
  return feasibleEdge(probe, min, Math.max(min + 1, Math.ceil(max(rates) / MiB) + 1))?.e ?? null;
}

/**
 * Gentler for the guest: less vCPU time taken at the switchover (what the guest feels: dirty-limit
 * spares quiet vCPUs), then less of its dirtying throttled, then less on average, then shorter.
 */
function gentler(a: Evaluation, b: Evaluation): boolean {
  const pa = a.predicted;
  const pb = b.predicted;
  if (pa.vcpuSlowdown !== pb.vcpuSlowdown) return pa.vcpuSlowdown < pb.vcpuSlowdown;
  if (pa.slowdown !== pb.slowdown) return pa.slowdown < pb.slowdown;
  if (pa.meanSlowdown !== pb.meanSlowdown) return pa.meanSlowdown < pb.meanSlowdown;
  return pa.totalTimeMs < pb.totalTimeMs;
}

function autoConverge(initialPct: number, incrementPct: number, maxPct: number): ThrottleSetting {
  return { kind: 'auto-converge', initialPct, incrementPct, maxPct };
}

/**
 * The lowest `max-cpu-throttle` that works when the first trigger jumps straight to it (by
 * bisection: a higher cap only converges sooner), then, under that cap, the ramp
 * (`cpu-throttle-initial` below it, + `cpu-throttle-increment`) with the least throttling on average
 * that still works. The cap is the knob that bounds the guest's slowdown; QEMU's default 99 lets
 * the throttle keep climbing as long as periods stay "high", well past what convergence needs.
 */
function bestAutoConverge(ctx: TuneContext): Evaluation | null {
  const budget = ctx.input.budgetMs;
  const straight: Probe = (cap) => evaluate(ctx, autoConverge(cap, QEMU_AUTO_CONVERGE.defaultIncrementPct, cap), budget);
  const edge = feasibleEdge(straight, QEMU_AUTO_CONVERGE.maxPct, QEMU_AUTO_CONVERGE.minPct - 1);
  if (edge === null) return null;
  let best = edge.e;
  for (const initialPct of AUTO_CONVERGE_INITIALS) {
    if (initialPct >= edge.value) break;
    for (const incrementPct of AUTO_CONVERGE_INCREMENTS) {
      const e = evaluate(ctx, autoConverge(initialPct, incrementPct, edge.value), budget);
      if (isFeasible(e) && gentler(e, best)) best = e;
    }
  }
  return best;
}

/** Settings whose points make the trade-off table. */
function tradeOffSettings(allowed: ReadonlySet<ThrottleMechanism>, rates: readonly number[] | null, dirtyBytesPerS: number): ThrottleSetting[] {
  const out: ThrottleSetting[] = [NONE];
  if (allowed.has('auto-converge')) {
    for (const p of TRADE_OFF_CPU_PCTS) out.push({ kind: 'auto-converge', initialPct: p, incrementPct: QEMU_AUTO_CONVERGE.defaultIncrementPct, maxPct: p });
  }
  if (allowed.has('dirty-limit') && rates !== null) {
    const limits = new Set<number>([QEMU_DIRTY_LIMIT.minVcpuLimitMiBPerS]);
    for (const share of TRADE_OFF_RATE_SHARES) {
      const mib = dirtyLimitForVmRate(rates, dirtyBytesPerS * share);
      if (mib !== null) limits.add(mib);
    }
    for (const mib of limits) out.push({ kind: 'dirty-limit', vcpuLimitBytesPerS: mib * MiB });
  }
  return out;
}

/** The lowest VM dirty rate any allowed mechanism reaches, bytes/s. */
function floorRate(allowed: ReadonlySet<ThrottleMechanism>, rates: readonly number[] | null, dirtyBytesPerS: number): number {
  let floor = dirtyBytesPerS;
  if (allowed.has('auto-converge')) floor = Math.min(floor, dirtyBytesPerS * (1 - QEMU_AUTO_CONVERGE.maxPct / 100));
  if (allowed.has('dirty-limit') && rates !== null) floor = Math.min(floor, vmRateUnderDirtyLimit(rates, QEMU_DIRTY_LIMIT.minVcpuLimitMiBPerS * MiB));
  return floor;
}

function modelNotes(input: TuneInput, best: Recommendation | null): string[] {
  const notes = [
    'rounds follow the AVG model (a constant dirty rate per throttle level, saturating at the writable working set); ' +
      'skewed writers shrink faster in long passes and slower in short ones than this (see the dataset validation)',
  ];
  if (input.firstPassBytes === undefined) notes.push('first pass taken to send all of RAM (no zero pages): times err long; give the first pass size if known');
  if (best !== null && !best.predicted.calibrated) notes.push('blackout bound is not conformal-calibrated for this VM (priors or devices outside the calibration): it is the conservative union bound');
  return notes;
}

/** Recommends QEMU throttle and switchover knobs for `input`; see the module comment. */
export function tune(measured: TuneInput): TuneResult {
  checkInput(measured);
  const margin = measured.dirtyRateMargin ?? DEFAULT_DIRTY_RATE_MARGIN;
  const input: TuneInput = { ...measured, dirtyBytesPerS: measured.dirtyBytesPerS * (1 + margin) };
  const ctx = tuneContext(input);
  const allowed = new Set<ThrottleMechanism>(input.mechanisms ?? ALL_MECHANISMS);
  const rates = vcpuRates(input);
  const notes: string[] = [];
  if (allowed.has('dirty-limit') && rates === null) notes.push('dirty-limit not considered: it needs per-vCPU dirty rates or a vCPU count');
  const rho = convergenceRatio(measured.dirtyBytesPerS, input.bandwidthBytesPerS);
  const plannedDirtyBytesPerS = input.dirtyBytesPerS;
  const targetRamBytes = ctx.ramTarget(input.dirtyBytesPerS);
  if (margin > 0) notes.push(`planned for a dirty rate ${Math.round(margin * 100)} % above the measured one`);
  if (input.link !== undefined && input.link !== DEFAULT_LINK && ctx.switchover.link === DEFAULT_LINK) {
    notes.push(`the model has no blackout rate for link '${input.link}': predicted with the pooled '${DEFAULT_LINK}' rate (fit a model with transfers on that link)`);
  }
  const table = tradeOffs(ctx, tradeOffSettings(allowed, rates, input.dirtyBytesPerS));

  const none = evaluate(ctx, NONE, input.budgetMs);
  if (isFeasible(none)) {
    const rec = recommendation(ctx, none);
    return { feasible: true, reason: 'NO_THROTTLE_NEEDED', recommended: rec, alternatives: [], tradeOffs: table, rho, plannedDirtyBytesPerS, targetRamBytes, notes: [...notes, ...modelNotes(input, rec)] };
  }

  const found: Evaluation[] = [];
  if (allowed.has('dirty-limit') && rates !== null) {
    const e = bestDirtyLimit(ctx, rates);
    if (e !== null) found.push(e);
    notes.push('dirty-limit needs KVM with dirty-ring-size set and cannot be combined with auto-converge; device DMA dirtying is not limited');
  }
  if (allowed.has('auto-converge')) {
    const e = bestAutoConverge(ctx);
    if (e !== null) found.push(e);
  }
  found.sort((a, b) => (gentler(a, b) ? -1 : gentler(b, a) ? 1 : 0));
  const [first, ...others] = found;
  if (first !== undefined) {
    const rec = recommendation(ctx, first);
    return {
      feasible: true,
      reason: 'THROTTLE',
      recommended: rec,
      alternatives: others.map((e) => recommendation(ctx, e)),
      tradeOffs: table,
      rho,
      plannedDirtyBytesPerS,
      targetRamBytes,
      notes: [...notes, ...modelNotes(input, rec)],
    };
  }
  const unreachable = ctx.ramTarget(floorRate(allowed, rates, input.dirtyBytesPerS)) < 0;
  const reason: TuneReason = unreachable ? 'DEADLINE_UNREACHABLE' : 'BUDGET_TOO_SHORT';
  if (unreachable) {
    for (const id of stopCopyOnlyCulprits(input.model, ctx.devices, ctx.switchover.link, input.alpha, input.deadlineMs, { qemuVersion: input.qemuVersion, deviceStateMultifd: input.deviceStateMultifd })) {
      notes.push(`device ${id} has no PRE_COPY: its whole state moves in the blackout, and alone it exceeds the deadline; no throttle helps`);
    }
  }
  return { feasible: false, reason, recommended: null, alternatives: [], tradeOffs: table, rho, plannedDirtyBytesPerS, targetRamBytes, notes: [...notes, ...modelNotes(input, null)] };
}
