/**
 * `fitModel(records, priors)`: the one pure function from telemetry records to a
 * {@link FittedModel}, shared by `vfio-sla fit --db` and `vfio-sla eval`. Data in, numbers out:
 * no I/O, no clock (the fitting time comes in as an option).
 *
 * Calibration is honest by construction: every conformal score comes from a migration the
 * scoring model was not fitted on —
 * - few migrations with outcomes (< `splitAbove`): K-fold cross-fit by migration; the shipped
 *   point model is refit on all (not CV+: no distribution-free guarantee, ≈ 1 − α for a stable
 *   fit; see {@link CalibrationModel});
 * - many: split conformal — a deterministic ~20 % of migrations (by id hash) only score, the
 *   shipped point model is fitted on the rest, and the guarantee is exact.
 * Every scoring model is a whole fit (arcs, per-link rates, fixed cost) of the other folds, and
 * a migration is scored with its own link's rate: the scores measure the predictor as shipped.
 */
import type { TelemetryRecord } from '../records/records.js';
import { bucketMigrations, fitArcBuckets } from './arc-fit.js';
import { fitBlackout } from './blackout-fit.js';
import { compileModel } from './compile.js';
import { calibrationFromScores, DEFAULT_DEVICE_SCALE_WEIGHT, logRatioScore, scaledScore, scoreScaleMs } from './conformal.js';
import { collectMigrations, factsOf, MigrationCollector, type MigrationData, type MigrationFacts } from './migrations.js';
import { fixedPartMedianMs, medianParts, predictBlackout, resolveLink } from './predict.js';
import { termCalibration, type TermRow } from './term-risk.js';
import { DEFAULT_LINK, MODEL_VERSION, type CalibrationModel, type FittedModel } from './types.js';
import { precopyTimeModel, precopyTimePointsOf } from './total-time.js';
import { crossValidatePrecopyPoints } from './total-time-eval.js';

export interface FitModelOptions {
  readonly name?: string;
  /** ISO-8601 time stamped on the model (default: the epoch; the CLI passes the wall clock). */
  readonly fittedAt?: string;
  /** What the records are (DB path, dataset), for the model's provenance. */
  readonly provenance?: string;
  /** How many samples a prior counts as (Bühlmann k, default 5). */
  readonly priorPseudoCount?: number;
  /** Folds of the cross-fit (default 10; at most one per migration). */
  readonly folds?: number;
  /** From this many migrations with outcomes on, calibrate by split instead (default {@link DEFAULT_SPLIT_ABOVE}). */
  readonly splitAbove?: number;
  /** Skip calibration (the folds of a cross-fit use this). */
  readonly calibrate?: boolean;
  readonly seed?: number;
  /**
   * The calibration score: `log-ratio` (default) or `scaled` (`conformal.ts`: residual ÷ a
   * scale from the prediction's transfer, VM-level and device parts).
   */
  readonly score?: 'log-ratio' | 'scaled';
  /** With `score: 'scaled'`: the device parts' weight in the scale (default `DEFAULT_DEVICE_SCALE_WEIGHT`). */
  readonly deviceScaleWeight?: number;
}

/**
 * Default {@link FitModelOptions.splitAbove}: 5000 migrations, where the split's ~20 % already
 * holds ~1000 scores (α = 1 % is then the 10th largest, α = 0.1 % the largest).
 *
 * Why not lower: the split scores a fifth of the migrations, the cross-fit all of them, so at
 * 500 a fit went from ~500 scores to ~100 — fewer than α = 1 % needs below the largest score —
 * and more history made the bound worse. Measured (fleet replay, 900 training VMs, α = 1 %,
 * governor useful share as % of the oracle's, development seeds 11–17): split at 500 (~130
 * scores) 72, 96, 79, 104, 84, 92, 69 (pooled useful 53.4 %); cross-fit (~660 scores) 95, 91, 95,
 * 102, 90, 103, 86 (59.3 %, misses 0.76 %); 300 training VMs cross-fit (~220 scores) 95, 101,
 * 94, 103, 81, 104, 77 (58.8 %). The cross-fit's cost is its K + 1 fits: ~1 s for 900 migrations
 * here; the 1 M-arc benchmark (35 700 migrations, `bench/estimators.ts`) stays a split.
 */
export const DEFAULT_SPLIT_ABOVE = 5000;

/** FNV-1a: a stable, platform-independent hash of a migration id for fold assignment. */
function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Collected migrations with their facts, computed once however many folds use them. */
interface Collected {
  readonly data: MigrationData;
  readonly facts: MigrationFacts;
}

/** Fits the point model (no calibration) from the migrations `use` accepts. */
function fitPoint(all: readonly Collected[], use: (c: Collected) => boolean, priors: FittedModel | undefined, opts: FitModelOptions): FittedModel {
  const chosen = all.filter(use);
  const buckets = bucketMigrations(chosen.map((c) => c.data));
  const transfers = chosen.flatMap((c) => c.data.stopcopyTransfers);
  const fitOpts = { ...(opts.priorPseudoCount === undefined ? {} : { priorPseudoCount: opts.priorPseudoCount }), ...(opts.seed === undefined ? {} : { seed: opts.seed }) };
  const arcs = fitArcBuckets(buckets, priors?.arcs, fitOpts);
  const blackout = fitBlackout(
    chosen.map((c) => c.facts),
    transfers,
    { link: priors?.links[DEFAULT_LINK], fixed: priors?.fixed, ram: priors?.ram },
    fitOpts,
  );
  // A prior's links stay until data name them; a link seen in the data is its data's (shrunk
  // toward the pooled fit, itself shrunk toward the prior's `default`).
  const links = { ...(priors?.links ?? {}), ...blackout.links };
  if (blackout.link !== undefined) links[DEFAULT_LINK] = blackout.link;
  return {
    version: MODEL_VERSION,
    name: opts.name ?? 'fitted',
    fittedAt: opts.fittedAt ?? new Date(0).toISOString(),
    provenance: [opts.provenance ?? 'records', priors === undefined ? 'no priors' : `priors: ${priors.name}`].join('; '),
    arcs,
    links,
    fixed: blackout.fixed,
    ...(blackout.ram === undefined ? {} : { ram: blackout.ram }),
  };
}

/** What the scored migrations had: device models, and the links their predictions used. */
interface ScoredSet {
  readonly scores: number[];
  readonly deviceModels: string[];
  readonly links: string[];
  /** The stack key of each score (`stack.ts`). */
  readonly stacks: string[];
  /** Each scored migration's terms (`term-risk.ts`). */
  readonly terms: TermRow[];
}

/**
 * Scores of the migrations `held` predicted by `model` (fitted without them), each with its own
 * link's rate when `model` has that link (`links.default` otherwise, and that is the link noted).
 * Their terms' rest is scaled by `restFixedMs`, the fixed cost of the model the governor will ask
 * (`fitModel`), not by `model`'s.
 */
function score(model: FittedModel, held: readonly Collected[], into: ScoredSet, deviceScaleWeight: number | undefined, restFixedMs: number): void {
  const compiled = compileModel(model);
  for (const { facts } of held) {
    if (facts.outcome === undefined) continue;
    const p = predictBlackout(compiled, facts.query, 0.5);
    if (p.missing.length > 0) continue;
    const actualMs = facts.outcome.actualBlackoutMs;
    const { transferMs, fixedMs } = medianParts(p);
    into.scores.push(deviceScaleWeight === undefined ? logRatioScore(actualMs, p.medianMs) : scaledScore(actualMs, p.medianMs, scoreScaleMs(transferMs, fixedMs, p.medianMs, deviceScaleWeight)));
    const timed = facts.blackoutTransferMs;
    if (timed !== undefined) into.terms.push({ transferMedianMs: transferMs, restMedianMs: p.medianMs - transferMs, fixedMedianMs: restFixedMs, deviceSpreadMs: p.deviceSpreadMs, transferMs: timed, actualMs });
    into.stacks.push(facts.stack);
    for (const d of facts.query.devices) into.deviceModels.push(d.model);
    into.links.push(resolveLink(compiled, facts.query.link));
  }
}

/**
 * Fits a {@link FittedModel} from telemetry records (any order, any mix of kinds; or already
 * collected, as the store reader does), shrunk toward
 * `priors` where data are few (`models/priors.json`; undefined: data only), and calibrates its
 * bound (see the module comment). Records of one migration must share a `migrationId`.
 */
export function fitModel(
  records: Iterable<TelemetryRecord> | MigrationCollector,
  priors: FittedModel | undefined,
  opts: FitModelOptions = {},
): FittedModel {
  const collected = records instanceof MigrationCollector ? records.migrations : collectMigrations(records);
  const all: Collected[] = [...collected.values()].map((data) => ({ data, facts: factsOf(data) }));
  const everything = (): boolean => true;
  const withOutcome = all.filter((c) => c.facts.outcome !== undefined);
  const n = withOutcome.length;
  if (opts.calibrate === false) return fitPoint(all, everything, priors, opts);
  const precopyTime = fitPrecopyTime(all, opts.folds ?? 10);
  const withPrecopy = (m: FittedModel): FittedModel => (precopyTime === undefined ? m : { ...m, precopyTime });
  if (n < 2) return withPrecopy(fitPoint(all, everything, priors, opts));
  const scored: ScoredSet = { scores: [], deviceModels: [], links: [], stacks: [], terms: [] };
  const weight = opts.score === 'scaled' ? (opts.deviceScaleWeight ?? DEFAULT_DEVICE_SCALE_WEIGHT) : undefined;
  const split = n >= (opts.splitAbove ?? DEFAULT_SPLIT_ABOVE);
  const method: NonNullable<CalibrationModel['method']> = split ? 'split' : 'cross-fit';
  const cal = split ? new Set(withOutcome.filter((c) => hashId(c.data.migrationId) % 5 === 0)) : undefined;
  // The model the governor will ask: split, fitted without the calibration set; else on everything.
  const model = fitPoint(all, cal === undefined ? everything : (c) => !cal.has(c), priors, opts);
  // Each row's rest is scaled by that model's fixed cost, as a query's is (`term-risk.ts`), not by
  // its fold's: fold fits of the fixed cost swing (0 to 6 ms on fleet seed 18), and a fold at 0
  // scaled the rest of VMs without devices by 1 µs — five scores of 10⁴ that gave every VM a miss
  // probability ≥ 2 %.
  const restFixedMs = fixedPartMedianMs(compileModel(model));
  if (cal !== undefined) {
    score(model, [...cal], scored, weight, restFixedMs);
  } else {
    const k = Math.max(2, Math.min(opts.folds ?? 10, n));
    const order = [...withOutcome].sort((a, b) => hashId(a.data.migrationId) - hashId(b.data.migrationId) || (a.data.migrationId < b.data.migrationId ? -1 : 1));
    const foldOf = new Map(order.map((c, i) => [c, i % k]));
    for (let fold = 0; fold < k; fold++) {
      const foldModel = fitPoint(all, (c) => foldOf.get(c) !== fold, priors, opts);
      score(
        foldModel,
        order.filter((c) => foldOf.get(c) === fold),
        scored,
        weight,
        restFixedMs,
      );
    }
  }
  const terms = termCalibration(scored.terms);
  const calibration = calibrationFromScores(scored.scores, method, scored.deviceModels, scored.links, weight, scored.stacks);
  return withPrecopy({ ...model, calibration: terms === undefined ? calibration : { ...calibration, terms } });
}

/** α the pre-copy time model's cross-validated figures are given at (as `eval`'s default). */
const PRECOPY_CV_ALPHA = 0.1;

/**
 * The pre-copy time model (`total-time.ts`): ln(actual / projected) at every scored pre-copy poll
 * of the migrations QEMU switched over by its own rule (the only ones whose target size is
 * known: bandwidth × downtime-limit), with its figures cross-validated by migration in the
 * provenance. Undefined when no migration has a scored poll.
 */
function fitPrecopyTime(all: readonly Collected[], folds: number): FittedModel['precopyTime'] {
  const byMigration = all.map((c) => precopyTimePointsOf(c.data)).filter((p) => p.length > 0);
  if (byMigration.length === 0) return undefined;
  const points = byMigration.flat();
  const k = Math.max(2, Math.min(folds, byMigration.length));
  let cv = '';
  if (byMigration.length >= 2) {
    const r = crossValidatePrecopyPoints(byMigration, PRECOPY_CV_ALPHA, k);
    cv = `; ${k}-fold cross-validated at α = ${PRECOPY_CV_ALPHA}: bound covers ${(100 * r.coverage).toFixed(1)} % of polls (${(100 * r.coveragePerMigration).toFixed(1)} % per migration) at a median ${r.medianBoundOverActual.toFixed(2)}× the actual, median |log2 error| ${r.medianAbsLog2Err.toFixed(2)} where converging, ${(100 * r.nonConvergingShare).toFixed(1)} % of polls not converging`;
  }
  return precopyTimeModel(points, `${points.length} pre-copy polls of ${byMigration.length} QEMU-switched migrations${cv}`);
}
