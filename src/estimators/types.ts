import type { MigFlags, MigState } from '../fsm/index.js';

/** Version of the serialised {@link FittedModel} JSON; bump on any incompatible change. */
export const MODEL_VERSION = 1 as const;

/** Where a number in a model came from. */
export type FitSource = 'prior' | 'fitted' | 'shrunk';

/**
 * Latency of one arc of one device model: `latencyMs ≈ fixedMs + slopeMsPerByte × stopCopyBytes`,
 * plus a residual whose empirical quantiles are kept (heavy tails are the point).
 */
export interface ArcLatencyModel {
  /** Samples the fit used (0 for a pure prior). */
  readonly n: number;
  readonly fixedMs: number;
  readonly slopeMsPerByte: number;
  /**
   * Residual quantiles (ms, actual − fitted line) at {@link RESIDUAL_QUANTILE_LEVELS}, ascending.
   * A prior carries quantiles from its published figure's spread.
   */
  readonly residualQuantilesMs: readonly number[];
  readonly source: FitSource;
  /** For priors and shrunk fits: which published figure or file the prior came from. */
  readonly provenance?: string;
}

/** The quantile levels every `residualQuantilesMs` array is stored at. */
export const RESIDUAL_QUANTILE_LEVELS: readonly number[] = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999];

/**
 * The link name of blackouts whose link nobody named, and the pooled fallback: a query with no
 * link, or with a link the model has not seen, is predicted with `links.default`.
 */
export const DEFAULT_LINK = 'default';

/** Throughput of the blackout (stop-copy) transfer on one link. Never the throttled pre-copy rate. */
export interface LinkModel {
  /** Blackouts fitted: those naming this link, or all of them for `default`. */
  readonly n: number;
  /**
   * Typical rate, bytes/s: 1000 / the slope (ms/byte) of a robust line through past blackouts
   * (blackout ms against blackout bytes), so fixed costs do not pollute it.
   */
  readonly medianBytesPerS: number;
  /** The pessimistic rate, bytes/s: from the slope's upper Sen bound (≈ 1 σ, p16). */
  readonly lowBytesPerS: number;
  readonly source: FitSource;
  readonly provenance?: string;
}

/**
 * Fixed, size-independent blackout costs seen by the VMM: vCPU stop, final RAM sync set-up,
 * destination vCPU restart. For QEMU data where only the total downtime is known, the residual
 * downtime after the byte transfer lands here.
 */
export interface FixedCostModel {
  readonly n: number;
  readonly medianMs: number;
  readonly residualQuantilesMs: readonly number[];
  readonly source: FitSource;
  readonly provenance?: string;
}

/**
 * Conformal calibration of the total blackout. Scores are `ln(actual / predictedMedian)` of
 * migrations whose prediction came from a model **not fitted on them** (out-of-fold predictions
 * of a K-fold cross-fit, or outcomes observed after the model was fitted), each predicted with
 * its own link's rate when the scoring model has that link. The bound for
 * miscoverage α is `median × exp(q)`, `q` the ⌈(n+1)(1−α)⌉-th smallest score (`conformal.ts`).
 *
 * The guarantee `P(actual ≤ bound) ≥ 1 − α` rests on **exchangeability**: the next migration
 * is drawn like the calibration ones (same hosts, devices, workloads, QEMU version). With
 * scores from a model fitted elsewhere (`split` or `online`) it holds exactly in finite samples.
 * With `cross-fit` scores (out-of-fold) around the model refit on all data it is **not** CV+:
 * CV+ (Barber, Candès, Ramdas & Tibshirani, "Predictive inference with the jackknife+", Ann.
 * Statist. 2021) predicts with each fold's own model and has ≥ 1 − 2α; putting out-of-fold
 * scores around the refit model is the "naive" K-fold construction, which has no
 * distribution-free guarantee (their §2 shows it can undercover for an unstable fit) and holds
 * ≈ 1 − α when the fit is stable — the refit model predicts new migrations as the fold models
 * predicted theirs (their §5: coverage ≥ 1 − α − O(stability)). Above `splitAbove` migrations
 * (default 5000, `DEFAULT_SPLIT_ABOVE` of `fit.ts`) the fit switches to split and the exact guarantee. The governor's adaptive α
 * (`governor/adaptive-alpha.ts`) bounds the long-run miss rate whatever holds here. When
 * exchangeability breaks (new firmware, new link, new workload) `driftTest()` sees the miss
 * rate exceed α and says recalibrate.
 */
export interface CalibrationModel {
  /** Sorted ascending: log ratios, or scaled residuals when {@link score} is `scaled` (the name predates them). */
  readonly logRatioScores: readonly number[];
  readonly n: number;
  /**
   * Device models present in the calibration migrations. A query with a device model outside
   * this set is not exchangeable with them: its bound falls back to the conservative one.
   */
  readonly deviceModels?: readonly string[];
  /**
   * Links the scored predictions used (`default` for those predicted with the pooled rate). A
   * query whose link resolves outside this set is not exchangeable with them (a rate nobody
   * scored): its bound falls back to the conservative one. Absent (models fitted before links
   * were): no link is checked.
   */
  readonly links?: readonly string[];
  /** How the scores were obtained: `cross-fit` (K-fold by migration), `split` or `online`. */
  readonly method?: 'cross-fit' | 'split' | 'online';
  /**
   * The score (absent: `log-ratio`): `ln(actual / median)`, bound `median × e^q`; or `scaled`:
   * `(actual − median) / scale`, bound `median + q × scale`, the scale from the prediction's own
   * parts (`scoreScaleMs` in `conformal.ts`, weighted by {@link deviceScaleWeight}).
   */
  readonly score?: 'log-ratio' | 'scaled';
  /** With `score: 'scaled'`: the weight of the device parts in the scale. */
  readonly deviceScaleWeight?: number;
  /**
   * The same scores by stack (`stack.ts` {@link stackKey}: QEMU major and pending-size semantics ×
   * device models), for each stack with at least {@link MIN_STACK_CALIBRATION} of them. A query
   * naming its stack is calibrated with its own group's scores when they are enough for its α
   * (`minCalibrationSize(α)`: 9 at α = 0.1, 19 at 0.05, 99 at 0.01 — below that no conformal rank
   * exists), else with the pooled ones, and the prediction says which (`calibrationGroup`).
   * Exchangeability is the reason: a QEMU that counted pre-copy bytes twice switched over at other
   * sizes than a fixed one, and a driver's blackout spread is its own. Absent: pooled only.
   */
  readonly byStack?: Readonly<Record<string, StackCalibration>>;
  /**
   * The blackout's two terms learned apart (`term-risk.ts`), from the scored migrations whose
   * blackout transfer was timed on its own; absent when fewer than `MIN_TERM_CALIBRATION` were.
   * What a VM's miss probability is computed from (`blackoutMissProbability`), and the bound of
   * a model compiled with `{ bound: 'terms' }`.
   */
  readonly terms?: TermCalibration;
}

/** {@link CalibrationModel.terms}: the scored migrations' transfer factors and rest scores (`term-risk.ts`). */
export interface TermCalibration {
  /** Scored migrations with a timed transfer. */
  readonly n: number;
  /** Sorted ascending: actual transfer ÷ predicted transfer median (transfers predicted ≥ 0.5 ms). */
  readonly transferFactors: readonly number[];
  /** Sorted ascending, n of them: (actual − actual transfer − rest median) ÷ rest scale. */
  readonly restScores: readonly number[];
  /** The weight c of the device arcs' spread in the rest's scale (fixed + c × spread, `term-risk.ts`). */
  readonly restSpreadWeight: number;
}

/** Fewest scores a stack keeps its own calibration group for (the smallest useful one: α = 0.1). */
export const MIN_STACK_CALIBRATION = 9;

/** One stack's calibration scores ({@link CalibrationModel.byStack}), of the same kind as the pooled ones (log ratios or scaled). */
export interface StackCalibration {
  readonly n: number;
  /** Sorted ascending. */
  readonly logRatioScores: readonly number[];
}

/**
 * Guest RAM sent in the blackout beyond `ram.remaining`: the final dirty-bitmap sync finds the
 * pages dirtied since the last sync, so blackout RAM ≈ remaining + dirty rate × `carryMs`.
 * `carryMs` is learned (median over migrations of (blackout RAM − remaining at the decision) /
 * dirty rate), never a constant of one host.
 */
export interface RamCarryModel {
  readonly n: number;
  readonly carryMs: number;
  readonly source: FitSource;
  readonly provenance?: string;
}

/**
 * Learned error of the pre-copy time projection (`total-time.ts`): ln(actual / projected) per
 * scored pre-copy poll of finished migrations, for the bound on the time to completion.
 */
export interface PrecopyTimeModel {
  readonly n: number;
  /** Sorted ascending. */
  readonly logRatioScores: readonly number[];
  readonly provenance?: string;
}

/** Everything the governor needs, fitted from the store or loaded from `models/*.json`. */
export interface FittedModel {
  readonly version: typeof MODEL_VERSION;
  readonly name: string;
  /** ISO-8601 time of fitting. */
  readonly fittedAt: string;
  /** What it was fitted from (DB path, dataset) and from which priors. */
  readonly provenance: string;
  /** deviceModel → arcKey (`"PRE_COPY_P2P>STOP_COPY"`) → latency model. */
  readonly arcs: Readonly<Record<string, Readonly<Record<string, ArcLatencyModel>>>>;
  /**
   * link name → blackout throughput. `default` is the pooled fit over every blackout (what a
   * query naming no link, or a link not listed, is predicted with); every other link is fitted
   * from the blackouts whose transfers name it, shrunk toward `default` when they are few
   * (`link-fit.ts`).
   */
  readonly links: Readonly<Record<string, LinkModel>>;
  readonly fixed: FixedCostModel;
  /** Blackout RAM beyond `remaining`; absent means 0 (remaining only). */
  readonly ram?: RamCarryModel;
  /** Absent until enough migrations with outcomes exist; then bounds are conformal. */
  readonly calibration?: CalibrationModel;
  /** Absent: `decide()` bounds the pre-copy time by the budget only. */
  readonly precopyTime?: PrecopyTimeModel;
}

/** One device as the blackout predictor needs it. */
export interface BlackoutDevice {
  readonly id: string;
  readonly model: string;
  readonly state: MigState;
  readonly flags: MigFlags;
  /** MIG_DATA_SIZE now (already includes pending pre-copy data). */
  readonly stopCopyBytes: number;
}

/** A whole VM at the moment the switchover is being considered. */
export interface BlackoutQuery {
  readonly devices: readonly BlackoutDevice[];
  /** Guest RAM still to send in the blackout (QEMU `ram.remaining`). */
  readonly ramRemainingBytes: number;
  /**
   * Rate the guest dirties RAM now (QEMU `dirty-pages-rate` × `page-size`), bytes/s: adds the
   * {@link RamCarryModel} bytes the final sync will find. Absent: 0.
   */
  readonly ramDirtyBytesPerS?: number | undefined;
  /** Link name for {@link FittedModel.links}; `default` when absent. */
  readonly link?: string | undefined;
  /**
   * Source devices stepped in parallel (default) or one after another, into STOP_COPY (and out
   * of it, `stopCopyToStopInBlackout`). The destination's restart is always one after another
   * (QEMU's `vm_state_notify()`).
   */
  readonly serial?: boolean | undefined;
  /**
   * The migration's stack key (`stack.ts` {@link stackKey}): its calibration group when the
   * model has one big enough for α. Absent: the pooled calibration.
   */
  readonly stack?: string | undefined;
  /**
   * The source's `STOP_COPY → STOP` runs inside the blackout (QEMU before 8.2, `stack.ts`): each
   * device's arc is then a part of the prediction. Absent: current QEMU, after the blackout.
   */
  readonly stopCopyToStopInBlackout?: boolean | undefined;
  /**
   * QEMU `multifd-channels` when the `multifd` capability is on: the link is looked up as
   * `channelLinkName(link, channels)` first (`channels.ts`). Absent or 1: the plain link.
   */
  readonly multifdChannels?: number | undefined;
  /**
   * Device STOP_COPY data over multifd (QEMU ≥ 10.0 `x-migration-multifd-transfer`): each device
   * is saved and loaded by its own thread, in parallel with each other and with RAM: the phase is
   * the longer of the transfer and each device's stream then load (a device loads once its image
   * is in). `false`: the main channel, devices one after another, transfer then loads. Absent: as
   * before QEMU 10 was modelled (loads aggregated like the arcs, by `serial`).
   */
  readonly deviceStateMultifd?: boolean | undefined;
}

/** One component of a predicted blackout, for breakdowns and reports. */
export interface BlackoutPart {
  /** `vcpu-stop`, `arc` (source device arc; `STOP_COPY>STOP` too on QEMU before 8.2), `transfer`, `dest-load` (destination arcs), `restart`. */
  readonly kind: 'vcpu-stop' | 'arc' | 'transfer' | 'dest-load' | 'restart';
  readonly deviceId?: string;
  readonly arc?: string;
  readonly medianMs: number;
  /**
   * The part's own quantile at 1 − α/k, k = number of parts: by the union bound the parts'
   * highs sum to a bound that holds with probability ≥ 1 − α (the uncalibrated bound).
   */
  readonly highMs: number;
  /** True when the part came from a prior or had no model at all. */
  readonly fromPrior: boolean;
}

/** Predictive distribution summary of a VM's blackout. */
export interface BlackoutPrediction {
  readonly medianMs: number;
  /** P(actual ≤ boundMs) ≥ 1 − alpha (conformal when calibrated, else a conservative sum). */
  readonly boundMs: number;
  readonly alpha: number;
  readonly calibrated: boolean;
  /** The calibration scores the bound used: the query's stack key, or `pooled` ({@link CalibrationModel.byStack}). */
  readonly calibrationGroup: string;
  readonly parts: readonly BlackoutPart[];
  /** Device models or arcs with no model and no prior: the prediction must not be trusted. */
  readonly missing: readonly string[];
  /** The scale of a scaled conformal score for this query (`scoreScaleMs` at the model's weight), ms. */
  readonly scoreScaleMs: number;
  /**
   * How widely the device arcs in the blackout spread: the sum over them of each arc's quantile at
   * `TERM_REST_SPREAD_LEVEL` (0.9) above its median, ms (`term-risk.ts` scales the rest by it).
   */
  readonly deviceSpreadMs: number;
}
