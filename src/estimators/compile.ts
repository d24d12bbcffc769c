/**
 * Compiling a {@link FittedModel} for the governor's hot path: every (device model, flags,
 * state) chain of arcs into STOP_COPY, the destination load and restart chains, quantile arrays
 * as `Float64Array`s and the conformal scores are resolved once, here, so `predictBlackout()`
 * does arithmetic on plain fields and one `Map` lookup per device.
 */
import { FsmError, isStateSupported, isValidFlagSet, MigState, pathArcs, planPath, stateName, type MigFlags } from '../fsm/index.js';
import { NO_FIXED_COST } from './blackout-fit.js';
import { DEFAULT_DEVICE_SCALE_WEIGHT } from './conformal.js';
import { EstimatorError } from './errors.js';
import { compileTerms, type CompiledTerms } from './term-risk.js';
import { RESIDUAL_QUANTILE_LEVELS, type ArcLatencyModel, type FittedModel } from './types.js';

/** One arc of one device model, ready to evaluate. */
export interface CompiledArc {
  /** `"PRE_COPY_P2P>STOP_COPY"`. */
  readonly key: string;
  readonly fixedMs: number;
  readonly slopeMsPerByte: number;
  /** Residual quantiles at {@link RESIDUAL_QUANTILE_LEVELS}. */
  readonly q: Float64Array;
  /** The numbers are a prior's, not learned from this host. */
  readonly fromPrior: boolean;
}

/** The arcs one device steps through for one phase; `missing` names arcs with no model. */
export interface CompiledChain {
  readonly arcs: readonly CompiledArc[];
  readonly missing: readonly string[];
}

/** A device model's chains. */
export interface CompiledDevice {
  readonly model: string;
  /** Source: `planPath(state, STOP_COPY, flags)` at index `flags × 8 + state`; null where the kernel rejects. */
  readonly toStopCopy: readonly (CompiledChain | null)[];
  /**
   * Destination `RESUMING>STOP`: loading the state, often the slowest part (Horon 2023, 1480 ms).
   * No arcs when the model has none, or only a prior's beside a learnt one-request arc: the
   * restart then starts at RESUMING ({@link resumeInOneRequest}) or names the load missing.
   */
  readonly load: CompiledChain;
  /**
   * Destination `planPath(STOP, RUNNING, flags)` at index `flags`, or `RESUMING>X` then X → RUNNING
   * where the model knows the destination only from QEMU's one request ({@link resumeInOneRequest});
   * null where the kernel rejects.
   */
  readonly restart: readonly (CompiledChain | null)[];
  /** Source `STOP_COPY>STOP`: inside the blackout only before QEMU 8.2 (`stack.ts`, {@link BlackoutQuery.stopCopyToStopInBlackout}). */
  readonly stopAfterCopy: CompiledChain;
  /** Whether the calibration migrations had this device model (exchangeability). */
  readonly inCalibration: boolean;
}

/** A link's blackout rate as a slope, with its log-normal spread. */
export interface CompiledLink {
  /** The link's name in {@link FittedModel.links}. */
  readonly name: string;
  readonly slopeMsPerByte: number;
  /** ln(median rate / low rate): the low rate is ≈ 1 σ below. */
  readonly sigmaLog: number;
  readonly fromPrior: boolean;
  /** Whether calibration migrations were predicted with this link (exchangeability). */
  readonly inCalibration: boolean;
}

/** A model ready for {@link predictBlackout}: immutable, built once per fitted/loaded model. */
export interface CompiledModel {
  readonly name: string;
  readonly levels: Float64Array;
  readonly devices: ReadonlyMap<string, CompiledDevice>;
  readonly links: ReadonlyMap<string, CompiledLink>;
  readonly fixedMedianMs: number;
  readonly fixedQ: Float64Array;
  readonly fixedFromPrior: boolean;
  /** No fixed cost known at all (no data, no prior): predictions list `fixed` as missing. */
  readonly fixedMissing: boolean;
  /** RAM carry in seconds (bytes = dirty bytes/s × carryS). */
  readonly carryS: number;
  /** Sorted conformal scores ({@link CalibrationModel.score}); empty when uncalibrated. */
  readonly scores: Float64Array;
  /** The scores are scaled ones (`(actual − median) / scale`), not log ratios. */
  readonly scaledScores: boolean;
  /** Weight of the device parts in a prediction's `scoreScaleMs`. */
  readonly deviceScaleWeight: number;
  /** The same by stack key ({@link CalibrationModel.byStack}); empty when the calibration has none. */
  readonly stackScores: ReadonlyMap<string, Float64Array>;
  /** The calibration's terms (`term-risk.ts`); null when it has none. */
  readonly terms: CompiledTerms | null;
  /**
   * Bounds come from {@link terms} (the 1 − α quantile of their blackout) instead of the
   * conformal scores: compiled with `{ bound: 'terms' }` and a model that has terms.
   */
  readonly termsBound: boolean;
  /** Sorted scores ln(actual / projected) of the pre-copy time ({@link FittedModel.precopyTime}); empty when absent. */
  readonly precopyTimeScores: Float64Array;
  /** The model compiled. */
  readonly source: FittedModel;
}

const NUM_STATES = 8;
const NUM_FLAG_VALUES = 8;

function compileArc(key: string, m: ArcLatencyModel): CompiledArc {
  if (m.residualQuantilesMs.length !== RESIDUAL_QUANTILE_LEVELS.length) {
    throw new EstimatorError('E_BAD_MODEL', `arc ${key}: ${m.residualQuantilesMs.length} residual quantiles, expected ${RESIDUAL_QUANTILE_LEVELS.length}`);
  }
  return {
    key,
    fixedMs: m.fixedMs,
    slopeMsPerByte: m.slopeMsPerByte,
    q: Float64Array.from(m.residualQuantilesMs),
    fromPrior: m.source === 'prior' || m.n === 0,
  };
}

function chainFor(model: string, arcs: ReadonlyMap<string, CompiledArc>, cur: MigState, target: MigState, flags: MigFlags): CompiledChain | null {
  // Rejected combinations are known without building an FsmError (its stack trace is costly).
  if (!isValidFlagSet(flags) || !isStateSupported(cur, flags)) return null;
  let path: MigState[];
  try {
    path = planPath(cur, target, flags);
  } catch (e) {
    if (e instanceof FsmError) return null;
    throw e;
  }
  const found: CompiledArc[] = [];
  const missing: string[] = [];
  for (const [from, to] of pathArcs(cur, path)) {
    const key = `${stateName(from)}>${stateName(to)}`;
    const arc = arcs.get(key);
    if (arc === undefined) missing.push(`${model}:${key}`);
    else found.push(arc);
  }
  return { arcs: found, missing };
}

/** The arcs QEMU asks a resuming device for in one request ({@link resumeInOneRequest}). */
const ONE_REQUEST_ARCS = ['RESUMING>RUNNING_P2P', 'RESUMING>RUNNING'] as const;

/**
 * The destination's whole way back to RUNNING for `flags`, where the model has no `RESUMING>STOP`
 * but the arc QEMU asks for: QEMU moves a resuming device to RUNNING_P2P (RUNNING without P2P) in
 * one request as the VM starts (`vfio_vmstate_change_prepare()`, `hw/vfio/migration.c`), which
 * the kernel runs through STOP (`vfio_mig_get_next_state()`), so a QEMU host records
 * `RESUMING>RUNNING_P2P` and never the load or `STOP>RUNNING_P2P` alone. That arc is the load
 * and the restart's first step, one after another with the other devices' restarts at the VM's
 * start: the chain is it, then the kernel's steps from where it ends (the farthest state of
 * `planPath(RESUMING, RUNNING, flags)` one recorded arc reaches). Null when no such arc is known.
 * Also used where the load is only a prior's and the one request was learnt: a fitted model carries
 * every prior arc over (`arc-fit.ts`), so a host's `mlx5-cx7` would otherwise be predicted by the
 * prior's load and P2P step with the arc it measured left out.
 */
function resumeInOneRequest(model: string, arcs: ReadonlyMap<string, CompiledArc>, flags: MigFlags): CompiledChain | null {
  if (!isValidFlagSet(flags) || !isStateSupported(MigState.RESUMING, flags)) return null;
  const path = planPath(MigState.RESUMING, MigState.RUNNING, flags);
  // path[0] is STOP: RESUMING>STOP itself is the load, absent here.
  for (let j = path.length - 1; j >= 1; j--) {
    const to = path[j] as MigState;
    const first = arcs.get(`RESUMING>${stateName(to)}`);
    if (first === undefined) continue;
    const rest = chainFor(model, arcs, to, MigState.RUNNING, flags);
    return rest === null ? null : { arcs: [first, ...rest.arcs], missing: rest.missing };
  }
  return null;
}

function compileDevice(model: string, arcModels: Readonly<Record<string, ArcLatencyModel>>, inCalibration: boolean): CompiledDevice {
  const arcs = new Map<string, CompiledArc>();
  for (const [key, m] of Object.entries(arcModels)) arcs.set(key, compileArc(key, m));
  const loadArc = arcs.get('RESUMING>STOP');
  const learntOneRequest = ONE_REQUEST_ARCS.some((key) => arcs.get(key)?.fromPrior === false);
  // The destination from QEMU's one request ({@link resumeInOneRequest}) unless the load was learnt or nothing better is known.
  const oneRequest = loadArc === undefined || (loadArc.fromPrior && learntOneRequest);
  const toStopCopy: (CompiledChain | null)[] = [];
  const restart: (CompiledChain | null)[] = [];
  for (let flags = 0; flags < NUM_FLAG_VALUES; flags++) {
    for (let state = 0; state < NUM_STATES; state++) {
      toStopCopy.push(chainFor(model, arcs, state as MigState, MigState.STOP_COPY, flags));
    }
    const steps = chainFor(model, arcs, MigState.STOP, MigState.RUNNING, flags);
    if (!oneRequest || steps === null) restart.push(steps);
    else {
      // Where no one-request arc reaches these flags' path, the load (a prior's) goes first in the restart, or is named missing.
      const first = loadArc === undefined ? { arcs: [], missing: [`${model}:RESUMING>STOP`] } : { arcs: [loadArc], missing: [] };
      restart.push(resumeInOneRequest(model, arcs, flags) ?? { arcs: [...first.arcs, ...steps.arcs], missing: [...first.missing, ...steps.missing] });
    }
  }
  const load: CompiledChain = { arcs: !oneRequest && loadArc !== undefined ? [loadArc] : [], missing: [] };
  const stopArc = arcs.get('STOP_COPY>STOP');
  const stopAfterCopy: CompiledChain = stopArc === undefined ? { arcs: [], missing: [`${model}:STOP_COPY>STOP`] } : { arcs: [stopArc], missing: [] };
  return { model, toStopCopy, load, restart, stopAfterCopy, inCalibration };
}

/** Options of {@link compileModel}. */
export interface CompileOptions {
  /**
   * Where bounds come from: `conformal` (default) the calibration scores; `terms` the blackout's
   * terms when the model has them (`term-risk.ts`: no finite-sample guarantee, a miss
   * probability per VM — what the fleet governor's allocation spends its allowance by), else
   * the conformal scores.
   */
  readonly bound?: 'conformal' | 'terms';
}

/** Precomputes everything {@link predictBlackout} needs; throws `E_BAD_MODEL` on inconsistent arrays. */
export function compileModel(model: FittedModel, options: CompileOptions = {}): CompiledModel {
  const calibrated = new Set(model.calibration?.deviceModels ?? []);
  const devices = new Map<string, CompiledDevice>();
  for (const [name, arcModels] of Object.entries(model.arcs)) {
    devices.set(name, compileDevice(name, arcModels, calibrated.has(name)));
  }
  const calibratedLinks = model.calibration?.links === undefined ? undefined : new Set(model.calibration.links);
  const links = new Map<string, CompiledLink>();
  for (const [name, l] of Object.entries(model.links)) {
    const slope = 1000 / l.medianBytesPerS;
    links.set(name, {
      name,
      slopeMsPerByte: slope,
      sigmaLog: Math.max(0, Math.log(l.medianBytesPerS / l.lowBytesPerS)),
      fromPrior: l.source === 'prior' || l.n === 0,
      inCalibration: calibratedLinks?.has(name) ?? true,
    });
  }
  if (model.fixed.residualQuantilesMs.length !== RESIDUAL_QUANTILE_LEVELS.length) {
    throw new EstimatorError('E_BAD_MODEL', `fixed: ${model.fixed.residualQuantilesMs.length} residual quantiles, expected ${RESIDUAL_QUANTILE_LEVELS.length}`);
  }
  const scores = Float64Array.from(model.calibration?.logRatioScores ?? []).sort();
  const terms = model.calibration?.terms === undefined ? null : compileTerms(model.calibration.terms);
  return {
    name: model.name,
    levels: Float64Array.from(RESIDUAL_QUANTILE_LEVELS),
    devices,
    links,
    fixedMedianMs: model.fixed.medianMs,
    fixedQ: Float64Array.from(model.fixed.residualQuantilesMs),
    fixedFromPrior: model.fixed.source === 'prior' || model.fixed.n === 0,
    fixedMissing: model.fixed.provenance === NO_FIXED_COST,
    carryS: (model.ram?.carryMs ?? 0) / 1000,
    scores,
    scaledScores: model.calibration?.score === 'scaled',
    deviceScaleWeight: model.calibration?.deviceScaleWeight ?? DEFAULT_DEVICE_SCALE_WEIGHT,
    stackScores: new Map(Object.entries(model.calibration?.byStack ?? {}).map(([key, g]) => [key, Float64Array.from(g.logRatioScores).sort()])),
    terms,
    termsBound: terms !== null && options.bound === 'terms',
    precopyTimeScores: Float64Array.from(model.precopyTime?.logRatioScores ?? []).sort(),
    source: model,
  };
}
