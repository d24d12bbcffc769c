/**
 * One throttle setting, judged: the switchover knobs that make QEMU's rule agree with our bound
 * at the dirty rate the guest will have when it switches, the projected pre-copy under those
 * knobs (`precopy-run.ts`), and the blackout predicted for the RAM then pending
 * (`predictBlackout`, the fitted arc model).
 *
 * The bound depends on the dirty rate through the final sync's carry-over (RAM dirtied since the
 * last sync, `RamCarryModel`), and the rate at the switchover depends on the throttle the run
 * reached, which depends on the threshold. So the knobs start from the unthrottled rate (the
 * smallest, safest target) and are widened only while the run then switches at a rate no higher
 * than the one they were computed for.
 */
import type { CompiledModel } from '../estimators/predict.js';
import { predictBlackout, resolveLink } from '../estimators/predict.js';
import { DEFAULT_LINK } from '../estimators/types.js';
import { stackOfVersion } from '../governor/snapshot-stack.js';
import type { BlackoutDevice } from '../estimators/types.js';
import { precopyBoundWithinBudgetMs } from '../estimators/total-time.js';
import { largestFittingRamBytes } from '../governor/ram-target.js';
import { runPrecopy } from './precopy-run.js';
import { QEMU_DIRTY_RATE_UNIT_BYTES, QEMU_THROTTLE_TRIGGER } from '../facts/qemu.js';
import { switchoverKnobs } from './switchover-knobs.js';
import { vcpuRates, vmRateUnderDirtyLimit } from './throttle.js';
import type { PrecopyRun, Recommendation, SwitchoverKnobs, ThrottleMechanism, ThrottleSetting, TuneInput, TunePrediction } from './types.js';

/** What every evaluation of one tuning question shares. */
export interface TuneContext {
  readonly input: TuneInput;
  readonly devices: readonly BlackoutDevice[];
  readonly deviceBytes: number;
  /** Median blackout rate of the link, bytes/s (`null`: the model has none). */
  readonly linkBytesPerS: number | null;
  /** The blackout query's fields besides RAM and devices: the link at its channel count, the stepping, the stack. */
  readonly switchover: SwitchoverOf;
  readonly triggerThresholdPct: number;
  /** P*: largest RAM pending whose bound fits the deadline at this dirty rate, bytes; −1 when none. */
  ramTarget(dirtyBytesPerS: number): number;
}

/** {@link TuneContext.switchover}. */
export interface SwitchoverOf {
  readonly link: string;
  readonly serial: boolean;
  readonly deviceStateMultifd?: boolean | undefined;
  readonly stack?: string;
  readonly stopCopyToStopInBlackout?: boolean;
}

/** Builds the shared context (P* memoised per dirty rate). */
export function tuneContext(input: TuneInput): TuneContext {
  const model: CompiledModel = input.model;
  const switchover: SwitchoverOf = {
    // The link at its channel count, as the predictor resolves it (the link's own rate, else `default`'s).
    link: resolveLink(model, input.link ?? DEFAULT_LINK, input.multifdChannels),
    serial: input.serial ?? false,
    deviceStateMultifd: input.deviceStateMultifd,
    ...stackOfVersion(input.qemuVersion, input.devices),
  };
  const slope = model.links.get(switchover.link)?.slopeMsPerByte;
  const memo = new Map<number, number>();
  return {
    input,
    devices: input.devices,
    deviceBytes: input.devices.reduce((s, d) => s + d.stopCopyBytes, 0),
    linkBytesPerS: slope !== undefined && slope > 0 ? 1000 / slope : null,
    switchover,
    triggerThresholdPct: input.triggerThresholdPct ?? QEMU_THROTTLE_TRIGGER.defaultThresholdPct,
    ramTarget(dirtyBytesPerS: number): number {
      let p = memo.get(dirtyBytesPerS);
      if (p === undefined) {
        p = largestFittingRamBytes(model, { ...switchover, devices: input.devices, ramDirtyBytesPerS: dirtyBytesPerS }, input.alpha, input.deadlineMs, input.ramBytes);
        memo.set(dirtyBytesPerS, p);
      }
      return p;
    },
  };
}

/** A setting with its knobs, run and prediction. */
export interface Evaluation {
  readonly setting: ThrottleSetting;
  readonly knobs: SwitchoverKnobs;
  /** False when no RAM size fits the deadline at the rate this setting can reach. */
  readonly reachable: boolean;
  readonly run: PrecopyRun;
  readonly predicted: TunePrediction;
}

/** The mechanism a setting uses (`held-throttle` is auto-converge's level, held). */
export function mechanismOf(s: ThrottleSetting): ThrottleMechanism {
  return s.kind === 'held-throttle' ? 'auto-converge' : s.kind;
}

/** The lowest whole-VM dirty rate a setting can bring the guest to, bytes/s. */
function floorRate(ctx: TuneContext, s: ThrottleSetting): number {
  const d = ctx.input.dirtyBytesPerS;
  switch (s.kind) {
    case 'auto-converge':
      return d * (1 - s.maxPct / 100);
    case 'held-throttle':
      return d * (1 - s.pct / 100);
    case 'dirty-limit':
      return Math.min(d, vmRateUnderDirtyLimit(vcpuRates(ctx.input) ?? [], s.vcpuLimitBytesPerS));
    case 'none':
      return d;
  }
}

/** Projects `setting` with pre-copy stopped at `maxTimeMs`; see the module comment for the knobs. */
export function evaluate(ctx: TuneContext, setting: ThrottleSetting, maxTimeMs: number): Evaluation {
  const input = ctx.input;
  const runWith = (knobs: SwitchoverKnobs): PrecopyRun =>
    runPrecopy(input, setting, { ramThresholdBytes: knobs.ramThresholdBytes, maxTimeMs, triggerThresholdPct: ctx.triggerThresholdPct });
  const knobsAt = (target: number): SwitchoverKnobs => switchoverKnobs(target, ctx.deviceBytes, ctx.linkBytesPerS, input.deadlineMs);

  let rate = input.dirtyBytesPerS;
  let target = ctx.ramTarget(rate);
  if (target < 0) {
    rate = floorRate(ctx, setting);
    target = ctx.ramTarget(rate);
  }
  if (target < 0) {
    // Unreachable: run toward an empty RAM anyway, for the "switch at the budget" trade-off.
    const knobs = knobsAt(0);
    const run = runWith(knobs);
    return { setting, knobs, reachable: false, run, predicted: predict(ctx, run) };
  }
  let knobs = knobsAt(target);
  let run = runWith(knobs);
  // Widen while the run switches at a lower rate than assumed (a larger P* is then still safe).
  for (let i = 0; i < 3 && run.converged && run.dirtyBytesPerS < rate * (1 - 1e-9); i++) {
    const wider = ctx.ramTarget(run.dirtyBytesPerS);
    if (!(wider > target)) break;
    const k = knobsAt(wider);
    const r = runWith(k);
    // Switching sooner at a higher rate would carry more into the blackout than P* allows for.
    if (!r.converged || r.dirtyBytesPerS > run.dirtyBytesPerS * (1 + 1e-9)) break;
    rate = run.dirtyBytesPerS;
    target = wider;
    knobs = k;
    run = r;
  }
  return { setting, knobs, reachable: true, run, predicted: predict(ctx, run) };
}

/** The prediction for where `run` ended (its switchover, or the last sync before it stopped). */
export function predict(ctx: TuneContext, run: PrecopyRun): TunePrediction {
  const input = ctx.input;
  const p = predictBlackout(
    input.model,
    { ...ctx.switchover, devices: ctx.devices, ramRemainingBytes: run.pendingBytes, ramDirtyBytesPerS: run.dirtyBytesPerS },
    input.alpha,
  );
  return {
    converged: run.converged,
    rounds: run.passes,
    dirtySyncCount: run.dirtySyncCount,
    precopyMs: run.precopyMs,
    totalTimeMs: run.precopyMs + p.medianMs,
    totalBoundMs: run.converged ? precopyBoundWithinBudgetMs(run.precopyMs, input.model.precopyTimeScores, p.alpha, input.budgetMs) + p.boundMs : NaN,
    blackoutMedianMs: p.medianMs,
    blackoutBoundMs: p.boundMs,
    alpha: p.alpha,
    calibrated: p.calibrated,
    switchoverRamBytes: run.pendingBytes,
    slowdown: run.slowdown,
    meanSlowdown: run.meanSlowdown,
    vcpuSlowdown: run.vcpuSlowdown,
    cpuThrottlePct: run.cpuThrottlePct,
    dirtyBytesPerS: run.dirtyBytesPerS,
    withinBudget: run.converged && run.precopyMs + p.boundMs <= input.budgetMs,
    meetsDeadline: p.boundMs <= input.deadlineMs && p.missing.length === 0,
  };
}

/** Meets both the deadline and the budget. */
export function isFeasible(e: Evaluation): boolean {
  return e.reachable && e.predicted.converged && e.predicted.withinBudget && e.predicted.meetsDeadline;
}

/** `migrate-set-capabilities` and `migrate-set-parameters` (QMP names and units) for an evaluation. */
export function qemuCommands(ctx: TuneContext, e: Evaluation): { capabilities: string[]; parameters: Record<string, number> } {
  const parameters: Record<string, number> = {
    'downtime-limit': e.knobs.downtimeLimitMs,
    'avail-switchover-bandwidth': e.knobs.availSwitchoverBandwidthBytesPerS,
  };
  const capabilities: string[] = [];
  const s = e.setting;
  if (s.kind === 'auto-converge') {
    capabilities.push('auto-converge');
    parameters['cpu-throttle-initial'] = s.initialPct;
    parameters['cpu-throttle-increment'] = s.incrementPct;
    parameters['max-cpu-throttle'] = s.maxPct;
  } else if (s.kind === 'dirty-limit') {
    capabilities.push('dirty-limit');
    parameters['vcpu-dirty-limit'] = Math.round(s.vcpuLimitBytesPerS / QEMU_DIRTY_RATE_UNIT_BYTES);
  }
  if ((s.kind === 'auto-converge' || s.kind === 'dirty-limit') && ctx.triggerThresholdPct !== QEMU_THROTTLE_TRIGGER.defaultThresholdPct) {
    parameters['throttle-trigger-threshold'] = ctx.triggerThresholdPct;
  }
  return { capabilities, parameters };
}

/** The evaluation as a {@link Recommendation}. */
export function recommendation(ctx: TuneContext, e: Evaluation): Recommendation {
  const { capabilities, parameters } = qemuCommands(ctx, e);
  return { mechanism: mechanismOf(e.setting), setting: e.setting, capabilities, parameters, switchover: e.knobs, predicted: e.predicted, steps: e.run.steps };
}
