/**
 * Per (device model, arc) latency: `latencyMs ≈ fixedMs + slopeMsPerByte × stopCopyBytes`,
 * fitted robustly (Theil–Sen: a 383 ms stall among 14 ms arcs does not move the line) with the
 * residual's empirical quantiles, then shrunk toward the device model's prior from `models/`
 * ({@link credibility}) so a new device model is usable on day one and learns as data come.
 *
 * Buckets are filled from collected migrations' arc columns (no string key per arc), then each
 * is fitted in O(n log n) (Theil–Sen samples pairs above {@link THEIL_SEN_MAX_PAIRS}).
 */
import { stateName, type MigState } from '../fsm/index.js';
import type { ArcRecord } from '../records/records.js';
import { collectMigrations, type MigrationData } from './migrations.js';
import { median, offsets, quantileSorted, theilSenSlope, THEIL_SEN_MAX_PAIRS } from './robust.js';
import { credibility, DEFAULT_PRIOR_PSEUDO_COUNT, logNormalResidualQuantiles, mix, mixQuantiles, VAGUE_LOG_SIGMA } from './shrink.js';
import { RESIDUAL_QUANTILE_LEVELS, type ArcLatencyModel, type FittedModel } from './types.js';

/** deviceModel → arcKey → model, as in {@link FittedModel.arcs}. */
export type ArcModels = Record<string, Record<string, ArcLatencyModel>>;

export interface ArcFitOptions {
  /** How many samples a prior counts as (default {@link DEFAULT_PRIOR_PSEUDO_COUNT}). */
  readonly priorPseudoCount?: number;
  /** Seed for Theil–Sen pair sampling on big buckets. */
  readonly seed?: number;
}

/** Samples of one (device model, arc). */
export interface ArcBucket {
  readonly x: number[];
  readonly y: number[];
}

/** deviceModel → samples at index `from × 8 + to` (MigState numbers). */
export type ArcBuckets = Map<string, (ArcBucket | undefined)[]>;

function bucketFor(buckets: ArcBuckets, model: string, from: number, to: number): ArcBucket {
  let byArc = buckets.get(model);
  if (byArc === undefined) buckets.set(model, (byArc = []));
  const k = from * 8 + to;
  let b = byArc[k];
  if (b === undefined) byArc[k] = b = { x: [], y: [] };
  return b;
}

/** Adds the successful arcs of collected migrations to `buckets` (failed arcs time the failure, not the arc). */
export function bucketMigrations(migrations: Iterable<MigrationData>, buckets: ArcBuckets = new Map()): ArcBuckets {
  for (const d of migrations) {
    const n = d.arcOk.length;
    for (let i = 0; i < n; i++) {
      const lat = d.arcLatencyMs[i] as number;
      const bytes = d.arcStopCopyBytes[i] as number;
      if (!d.arcOk[i] || !(lat >= 0) || !(bytes >= 0)) continue;
      const b = bucketFor(buckets, d.arcModel[i] as string, d.arcFrom[i] as number, d.arcTo[i] as number);
      b.x.push(bytes);
      b.y.push(lat);
    }
  }
  return buckets;
}

/** Buckets of arc records (convenience over {@link bucketMigrations}). */
export function bucketArcs(arcs: Iterable<ArcRecord>, buckets: ArcBuckets = new Map()): ArcBuckets {
  return bucketMigrations(collectMigrations(arcs).values(), buckets);
}

/**
 * Fits one arc from its samples, shrunk toward `prior` when given. Without a prior the line is
 * the data's, and only the residual spread is shrunk toward a vague log-normal (σ =
 * {@link VAGUE_LOG_SIGMA}) so one or two samples do not claim a zero-width interval.
 * Slopes are clamped at ≥ 0: producing more state never makes an arc faster.
 */
export function fitArc(bucket: ArcBucket, prior: ArcLatencyModel | undefined, opts: ArcFitOptions = {}): ArcLatencyModel | undefined {
  const n = bucket.x.length;
  if (n === 0) return prior;
  const k = opts.priorPseudoCount ?? DEFAULT_PRIOR_PSEUDO_COUNT;
  const w = credibility(n, k);
  const line = theilSenSlope(bucket.x, bucket.y, prior?.slopeMsPerByte ?? 0, opts.seed, THEIL_SEN_MAX_PAIRS);
  const dataSlope = Math.max(0, line.slope);
  const slope = prior === undefined || !line.slopeIdentified ? dataSlope : Math.max(0, mix(w, dataSlope, prior.slopeMsPerByte));
  // One sort serves the intercept and every residual quantile (quantiles shift with the data).
  const sortedOffsets = offsets(bucket.x, bucket.y, slope).sort();
  const dataFixed = quantileSorted(sortedOffsets, 0.5);
  const fixedMs = prior === undefined ? dataFixed : mix(w, dataFixed, prior.fixedMs);
  // Spread about the data's own centre: the shrinkage moves the centre, not the shape.
  const dataQ = RESIDUAL_QUANTILE_LEVELS.map((p) => quantileSorted(sortedOffsets, p) - dataFixed);
  const priorQ = prior?.residualQuantilesMs ?? logNormalResidualQuantiles(fixedMs + slope * median(bucket.x), VAGUE_LOG_SIGMA);
  const residualQuantilesMs = mixQuantiles(w, dataQ, priorQ);
  if (prior === undefined) {
    return { n, fixedMs, slopeMsPerByte: slope, residualQuantilesMs, source: 'fitted' };
  }
  return {
    n,
    fixedMs,
    slopeMsPerByte: slope,
    residualQuantilesMs,
    source: 'shrunk',
    provenance: `${n} samples shrunk toward the prior (worth ${k}): ${prior.provenance ?? 'prior'}`,
  };
}

/**
 * Fits every (device model, arc) seen in `buckets`, and carries over every prior arc that has no
 * data, so the result covers both.
 */
export function fitArcBuckets(buckets: ArcBuckets, priors: FittedModel['arcs'] | undefined, opts: ArcFitOptions = {}): ArcModels {
  const out: ArcModels = {};
  for (const [model, prior] of Object.entries(priors ?? {})) out[model] = { ...prior };
  for (const [model, byArc] of buckets) {
    const target = (out[model] ??= {});
    byArc.forEach((bucket, k) => {
      if (bucket === undefined) return;
      const key = `${stateName((k >> 3) as MigState)}>${stateName((k & 7) as MigState)}`;
      const fitted = fitArc(bucket, priors?.[model]?.[key], opts);
      if (fitted !== undefined) target[key] = fitted;
    });
  }
  return out;
}

/** {@link bucketArcs} then {@link fitArcBuckets}. */
export function fitArcModels(arcs: Iterable<ArcRecord>, priors: FittedModel['arcs'] | undefined, opts: ArcFitOptions = {}): ArcModels {
  return fitArcBuckets(bucketArcs(arcs), priors, opts);
}
