/**
 * The predictive distribution of a VM's blackout, as `decide()` asks for it (design.md
 * "Estimators"; switchover-today.md §7):
 *
 *   blackout = fixed (vCPU stop, final sync, restart of the VM)
 *            + agg over devices of the source arcs into STOP_COPY (`planPath` under its flags)
 *            + agg over devices of the source STOP_COPY → STOP, on QEMU before 8.2 only
 *              (`query.stopCopyToStopInBlackout`; later QEMUs run it after the blackout, `stack.ts`)
 *            + (RAM remaining + dirty rate × carry + Σ stop-copy bytes) / blackout rate
 *            + agg over devices of the destination RESUMING>STOP load
 *            + Σ over devices of the destination STOP → … → RUNNING restart
 *              (RESUMING → … → RUNNING, the load inside it, for a device known from QEMU's one
 *              request, `compile.ts` `resumeInOneRequest`)
 *
 * `agg` is max (devices in parallel, the default) or sum (serial). Phases add up because QEMU
 * runs them as barriers: `vm_stop_force_state()` takes every device to STOP_COPY before
 * `qemu_savevm_state_complete_precopy()` sends the data, and the destination starts the VM after
 * loading all of it (switchover-today.md §1.4).
 *
 * Where the device state goes (`query.deviceStateMultifd`, QEMU ≥ 10.0):
 * - over multifd (`hw/vfio/migration-multifd.c`: a `vfio_multifd_save_complete_precopy_thread()`
 *   per device reads its STOP_COPY data onto the multifd channels beside RAM, a
 *   `vfio_load_bufs_thread()` per device writes it into the destination device — mlx5 loads an
 *   image inside the `write()` that completes it, `mlx5vf_resume_write()` → READ_IMAGE then
 *   LOAD_IMAGE, `mlx5vf_cmd_load_vhca_state()`): the devices run beside the transfer, each its
 *   stream then its load, so that phase is max(transfer, max over devices of stream + load);
 * - over the main channel (`vfio_save_complete_precopy()` then `vfio_load_state()` per device,
 *   `hw/vfio/migration.c`): one device after another, transfer + Σ loads.
 * The source arcs stay aggregated by `serial`: QEMU steps them in `vm_state_notify()`
 * (`vfio_vmstate_change_prepare()`, `vfio_vmstate_change()`) one after another, with or without
 * multifd, and a VMM that steps them itself (`DeadlineSetState`) may do so in parallel. The
 * destination's restart is always a sum: QEMU's `vm_start()` runs every device's handlers in turn
 * in `vm_state_notify(true, …)`, whoever stepped the source (`governor/phases.ts`).
 *
 * Why (the governor's fleet replay, 300 held-out VMs, α = 1 %, useful share pooled as % of the
 * oracle's, misses pooled): the restart taken as its slowest device's wherever the source was
 * stepped in parallel (the fleet's multifd VMs), as before, gave seeds 1–10 99.6 % at 1.10 %
 * (seed 10 at 94.7), development seeds 11–20 99.4 % at 0.90 %, unseen seeds 21–25 103.2 % at
 * 0.87 %; summed, 100.3 % at 1.10 % (seed 10 at 95.2), 99.8 % at 0.90 % and 103.8 % at 0.87 %.
 *
 * The median is the sum of parts' medians. The bound is conformal when the model is calibrated
 * for this query (see {@link CalibrationModel}) — with the scores of the query's stack when the
 * model has enough of them for α, else the pooled ones (`calibrationGroup` says which); otherwise every part is taken at its
 * 1 − α/k quantile (k parts) and summed, which holds with probability ≥ 1 − α by the union
 * bound if the parts' quantiles are right — conservative, and `calibrated: false`.
 *
 * The floor of that bound: residual quantiles are stored up to level 0.999
 * (`RESIDUAL_QUANTILE_LEVELS`) and not extrapolated into a tail nobody measured, so once
 * α/k < 0.001 (α = 0.01 with more than 10 parts: a VM with two devices) the residual parts stay
 * at their 0.999 quantile; only the transfer (log-normal) keeps growing. The union bound then
 * holds with probability ≥ {@link unionBoundCoverage}(α, k) = 1 − k·max(α/k, 0.001), not 1 − α.
 *
 * The transfer runs at the query's link's rate when the model knows that link — first the link
 * at the query's channel count (`channelLinkName`, `channels.ts`), then the link itself — else at
 * the pooled `default` rate — and then, if calibration never scored a `default` prediction, the
 * bound is the conservative one (see {@link CalibrationModel.links}).
 *
 * Hot path: no allocation beyond the result (its parts and, when needed, `missing`), one `Map`
 * lookup per device and one or two per link.
 */
import type { CompiledChain, CompiledLink, CompiledModel } from './compile.js';
import { baseLinkName, channelLinkName } from './channels.js';
import { conformalRank, scoreScaleMs } from './conformal.js';
import { EstimatorError } from './errors.js';
import { normalQuantile } from './robust.js';
import { restScaleMs, TERM_REST_SPREAD_LEVEL, termBound, termExceedance, type TermQuery } from './term-risk.js';
import { DEFAULT_LINK, RESIDUAL_QUANTILE_LEVELS, type BlackoutPart, type BlackoutPrediction, type BlackoutQuery } from './types.js';

export { compileModel } from './compile.js';
export type { CompiledModel, CompileOptions } from './compile.js';

const NONE: readonly string[] = Object.freeze([]);

/** {@link BlackoutPrediction.calibrationGroup} of a bound from the pooled scores. */
export const POOLED = 'pooled';

/** Highest residual quantile level a model stores (`RESIDUAL_QUANTILE_LEVELS`): the union bound's per-part floor. */
export const UNION_BOUND_TOP_LEVEL = RESIDUAL_QUANTILE_LEVELS[RESIDUAL_QUANTILE_LEVELS.length - 1] as number;

/**
 * The probability the uncalibrated (union) bound of a query with `parts` parts holds at
 * miscoverage `alpha`, given right part quantiles: 1 − parts·max(alpha/parts, 1 − 0.999). Equal
 * to 1 − alpha while alpha/parts ≥ 0.001; below that the stored levels floor it (module comment).
 */
export function unionBoundCoverage(alpha: number, parts: number): number {
  return 1 - parts * Math.max(alpha / parts, 1 - UNION_BOUND_TOP_LEVEL);
}

/** Position of level `p` in `levels`: index of the upper neighbour and the weight of it. */
function levelPosition(levels: Float64Array, p: number): number {
  const n = levels.length;
  if (p <= (levels[0] as number)) return 0;
  for (let i = 1; i < n; i++) {
    const li = levels[i] as number;
    if (p <= li) {
      const l0 = levels[i - 1] as number;
      return i - 1 + (p - l0) / (li - l0);
    }
  }
  return n - 1;
}

/** Quantile array value at a fractional position from {@link levelPosition}. */
function at(q: Float64Array, pos: number): number {
  const i = Math.floor(pos);
  const a = q[i] as number;
  const t = pos - i;
  return t === 0 ? a : a + t * ((q[i + 1] as number) - a);
}

/** The fixed (VM-level) cost's median at level position `posMid` (of 0.5), ms, ≥ 0. */
function fixedAt(model: CompiledModel, posMid: number): number {
  return Math.max(0, model.fixedMedianMs + at(model.fixedQ, posMid));
}

/**
 * The fixed (VM-level) cost's median, ms: the `vcpu-stop` part of every prediction of `model`,
 * whatever the query (`term-risk.ts` scales the rest by it).
 */
export function fixedPartMedianMs(model: CompiledModel): number {
  return fixedAt(model, levelPosition(model.levels, 0.5));
}

/** Per-phase aggregate of devices: max (parallel) or sum (serial). */
function agg(acc: number, v: number, serial: boolean): number {
  return serial ? acc + v : v > acc ? v : acc;
}

/**
 * Predicts the blackout of `query` with miscoverage `alpha` ∈ (0, 1). Device models, arcs, the
 * link or the fixed cost with neither data nor prior are listed in `missing` (the governor must
 * then not commit); their parts are left out of the numbers.
 */
export function predictBlackout(model: CompiledModel, query: BlackoutQuery, alpha: number): BlackoutPrediction {
  if (!(alpha > 0 && alpha < 1)) throw new EstimatorError('E_BAD_ARGUMENT', `alpha must be in (0, 1), got ${String(alpha)}`);
  const devices = query.devices;
  const serial = query.serial === true;
  const stopInBlackout = query.stopCopyToStopInBlackout === true;
  const multifdState = query.deviceStateMultifd;
  // Loads: in parallel over multifd, one after another on the main channel, else like the arcs.
  const serialLoads = multifdState === undefined ? serial : !multifdState;
  let missing: string[] | undefined;
  let inCalibration = true;

  // Pass 1: count parts (for the union bound) and collect what is missing.
  let k = 2; // fixed + transfer
  for (let d = 0; d < devices.length; d++) {
    const dev = devices[d]!;
    const c = model.devices.get(dev.model);
    if (c === undefined) {
      (missing ??= []).push(dev.model);
      continue;
    }
    if (!c.inCalibration) inCalibration = false;
    const src = c.toStopCopy[dev.flags * 8 + dev.state];
    const rst = c.restart[dev.flags];
    if (src === null || src === undefined || rst === null || rst === undefined) {
      (missing ??= []).push(`${dev.id}: no kernel path to STOP_COPY from state ${dev.state} with flags ${dev.flags}`);
      continue;
    }
    k += src.arcs.length + c.load.arcs.length + rst.arcs.length;
    if (src.missing.length + c.load.missing.length + rst.missing.length > 0) {
      missing ??= [];
      for (const m of src.missing) missing.push(m);
      for (const m of c.load.missing) missing.push(m);
      for (const m of rst.missing) missing.push(m);
    }
    if (stopInBlackout) {
      k += c.stopAfterCopy.arcs.length;
      for (const m of c.stopAfterCopy.missing) (missing ??= []).push(m);
    }
  }
  const link = compiledLink(model, queryLinkName(query));
  if (link === undefined) (missing ??= []).push(`link:${query.link ?? DEFAULT_LINK}`);
  else if (!link.inCalibration) inCalibration = false;
  if (model.fixedMissing) (missing ??= []).push('fixed');

  const levels = model.levels;
  const highLevel = 1 - alpha / k;
  const posMid = levelPosition(levels, 0.5);
  const posHigh = levelPosition(levels, highLevel);
  const posSpread = levelPosition(levels, TERM_REST_SPREAD_LEVEL);
  const parts: BlackoutPart[] = [];

  const fixedMed = fixedAt(model, posMid);
  const fixedHigh = Math.max(fixedMed, model.fixedMedianMs + at(model.fixedQ, posHigh));
  parts.push({ kind: 'vcpu-stop', medianMs: fixedMed, highMs: fixedHigh, fromPrior: model.fixedFromPrior });

  // Pass 2: evaluate chains phase by phase.
  let srcMed = 0;
  let srcHigh = 0;
  let loadMed = 0;
  let loadHigh = 0;
  let rstMed = 0;
  let rstHigh = 0;
  let stopMed = 0;
  let stopHigh = 0;
  let deviceBytes = 0;
  let spreadMs = 0;
  for (let d = 0; d < devices.length; d++) {
    const dev = devices[d]!;
    deviceBytes += dev.stopCopyBytes;
    const c = model.devices.get(dev.model);
    if (c === undefined) continue;
    const src = c.toStopCopy[dev.flags * 8 + dev.state];
    const rst = c.restart[dev.flags];
    if (src == null || rst == null) continue;
    const bytes = dev.stopCopyBytes;
    srcMed = agg(srcMed, chain(parts, src, 'arc', dev.id, bytes, posMid, posHigh, posSpread), serial);
    srcHigh = agg(srcHigh, lastHighSum, serial);
    spreadMs += lastSpreadSum;
    if (stopInBlackout) {
      // Before QEMU 8.2 the source stops each device after reading it out, inside the blackout.
      stopMed = agg(stopMed, chain(parts, c.stopAfterCopy, 'arc', dev.id, bytes, posMid, posHigh, posSpread), serial);
      stopHigh = agg(stopHigh, lastHighSum, serial);
      spreadMs += lastSpreadSum;
    }
    // Over multifd a device's load starts once its own image is in: its stream, then its load.
    const streamMs = multifdState === true && link !== undefined ? bytes * link.slopeMsPerByte : 0;
    loadMed = agg(loadMed, streamMs + chain(parts, c.load, 'dest-load', dev.id, bytes, posMid, posHigh, posSpread), serialLoads);
    loadHigh = agg(loadHigh, streamMs + lastHighSum, serialLoads);
    spreadMs += lastSpreadSum;
    rstMed += chain(parts, rst, 'restart', dev.id, bytes, posMid, posHigh, posSpread);
    rstHigh += lastHighSum;
    spreadMs += lastSpreadSum;
  }

  let xferMed = 0;
  let xferHigh = 0;
  if (link !== undefined) {
    const dirty = query.ramDirtyBytesPerS ?? 0;
    const bytes = Math.max(0, query.ramRemainingBytes) + (dirty > 0 ? dirty * model.carryS : 0) + deviceBytes;
    xferMed = bytes * link.slopeMsPerByte;
    xferHigh = xferMed * Math.exp(normalQuantile(highLevel) * link.sigmaLog);
    parts.push({ kind: 'transfer', medianMs: xferMed, highMs: xferHigh, fromPrior: link.fromPrior });
  }

  // Over multifd the devices' streams and loads run beside the transfer: the phase is the longer.
  const overlap = multifdState === true;
  const dataMed = overlap ? Math.max(xferMed, loadMed) : xferMed + loadMed;
  const dataHigh = overlap ? Math.max(xferHigh, loadHigh) : xferHigh + loadHigh;
  const medianMs = fixedMed + srcMed + stopMed + dataMed + rstMed;
  const conservativeMs = fixedHigh + srcHigh + stopHigh + dataHigh + rstHigh;
  // The query's own stack when its group has a conformal rank at this α, else the pooled scores.
  const own = query.stack === undefined ? undefined : model.stackScores.get(query.stack);
  const useOwn = own !== undefined && conformalRank(own.length, alpha) <= own.length;
  const scores = useOwn ? own : model.scores;
  const rank = conformalRank(scores.length, alpha);
  const terms = model.termsBound ? model.terms : null;
  const calibrated = missing === undefined && inCalibration && (terms !== null || rank <= scores.length);
  const scaleMs = scoreScaleMs(xferMed, fixedMed, medianMs, model.deviceScaleWeight);
  const q = scores[rank - 1] as number;
  const boundMs = !calibrated
    ? conservativeMs
    : terms !== null
      ? Math.max(medianMs, termBound(terms, termQueryOf(medianMs, xferMed, fixedMed, spreadMs, terms.restSpreadWeight), alpha))
      : Math.max(medianMs, model.scaledScores ? medianMs + q * scaleMs : medianMs * Math.exp(q));
  return { medianMs, boundMs, alpha, calibrated, calibrationGroup: useOwn ? (query.stack as string) : POOLED, parts, missing: missing ?? NONE, scoreScaleMs: scaleMs, deviceSpreadMs: spreadMs };
}

/** A prediction's terms (`term-risk.ts`): the rest is the median without its transfer. */
function termQueryOf(medianMs: number, transferMs: number, fixedMs: number, spreadMs: number, weight: number): TermQuery {
  return { restMs: medianMs - transferMs, restScaleMs: restScaleMs(fixedMs, spreadMs, weight), transferMs };
}

/**
 * P(blackout > `limitMs`) for `query` under the model's terms (`term-risk.ts`): the miss
 * probability of committing now with that limit. 1 when the prediction lacks a part or is
 * outside the calibration (nothing says it would not miss); undefined when the model has no terms.
 */
export function blackoutMissProbability(model: CompiledModel, query: BlackoutQuery, limitMs: number): number | undefined {
  const terms = model.terms;
  if (terms === null) return undefined;
  const p = predictBlackout(model, query, 0.5);
  if (p.missing.length > 0 || !p.calibrated) return 1;
  const { transferMs, fixedMs } = medianParts(p);
  return termExceedance(terms, termQueryOf(p.medianMs, transferMs, fixedMs, p.deviceSpreadMs, terms.restSpreadWeight), limitMs);
}

/** A prediction's transfer and fixed (VM-level) medians, ms. */
export function medianParts(p: BlackoutPrediction): { transferMs: number; fixedMs: number } {
  let transferMs = 0;
  let fixedMs = 0;
  for (const part of p.parts) {
    if (part.kind === 'transfer') transferMs += part.medianMs;
    else if (part.kind === 'vcpu-stop') fixedMs += part.medianMs;
  }
  return { transferMs, fixedMs };
}

/** The link name a query asks for: its link at its channel count (`channels.ts`). */
function queryLinkName(query: Pick<BlackoutQuery, 'link' | 'multifdChannels'>): string | undefined {
  return query.link === undefined ? undefined : channelLinkName(query.link, query.multifdChannels);
}

/**
 * The link a name is predicted with: its own when the model has it, else (for a channel-qualified
 * name such as `100G@8ch`) its link's, else `default` (undefined when none).
 */
function compiledLink(model: CompiledModel, name: string | undefined): CompiledLink | undefined {
  if (name === undefined) return model.links.get(DEFAULT_LINK);
  const own = model.links.get(name);
  if (own !== undefined) return own;
  const base = baseLinkName(name);
  return (base === undefined ? undefined : model.links.get(base)) ?? model.links.get(DEFAULT_LINK);
}

/**
 * The name of the link {@link predictBlackout} uses for a query naming `link` (over
 * `multifdChannels` channels): `link@Nch` when the model has that group, else `link` when it has
 * that, else `default` (what a fleet not yet seen on a link is predicted with).
 */
export function resolveLink(model: CompiledModel, link: string | undefined, multifdChannels?: number): string {
  return compiledLink(model, link === undefined ? undefined : channelLinkName(link, multifdChannels))?.name ?? DEFAULT_LINK;
}

/** Σ highs of the last {@link chain} call (a module-level scratch: no tuple allocated per chain). */
let lastHighSum = 0;
/** Σ spreads (quantile at the spread level above the median) of the last {@link chain} call, likewise. */
let lastSpreadSum = 0;

/** Pushes one part per arc of `c`; returns Σ medians and leaves Σ highs in {@link lastHighSum}, Σ spreads in {@link lastSpreadSum}. */
function chain(
  parts: BlackoutPart[],
  c: CompiledChain,
  kind: 'arc' | 'dest-load' | 'restart',
  deviceId: string,
  bytes: number,
  posMid: number,
  posHigh: number,
  posSpread: number,
): number {
  let med = 0;
  let high = 0;
  let spread = 0;
  const arcs = c.arcs;
  for (let i = 0; i < arcs.length; i++) {
    const a = arcs[i]!;
    const line = a.fixedMs + a.slopeMsPerByte * bytes;
    const m = Math.max(0, line + at(a.q, posMid));
    const h = Math.max(m, line + at(a.q, posHigh));
    parts.push({ kind, deviceId, arc: a.key, medianMs: m, highMs: h, fromPrior: a.fromPrior });
    med += m;
    high += h;
    spread += Math.max(0, line + at(a.q, posSpread) - m);
  }
  lastHighSum = high;
  lastSpreadSum = spread;
  return med;
}

