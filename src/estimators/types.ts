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

/** Throughput of the blackout (stop-copy) transfer on one link. Never the throttled pre-copy rate. */
export interface LinkModel {
  readonly n: number;
  /** Median of bytes/s measured over past stop-copy transfers. */
  readonly medianBytesPerS: number;
  /** A low quantile (p10) of the same: the pessimistic rate. */
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
 * Split-conformal calibration of the total blackout: scores are `log(actual / predictedMedian)`
 * on migrations the point model was not fitted on. The bound for miscoverage α is
 * `median × exp(q)`, `q` the ⌈(n+1)(1−α)⌉-th smallest score. Valid under exchangeability of
 * calibration and future migrations; `driftWindow` tracks recent coverage to detect when that
 * stops holding.
 */
export interface CalibrationModel {
  /** Sorted ascending. */
  readonly logRatioScores: readonly number[];
  readonly n: number;
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
  /** link name (`default` when unknown) → blackout throughput. */
  readonly links: Readonly<Record<string, LinkModel>>;
  readonly fixed: FixedCostModel;
  /** Absent until enough migrations with outcomes exist; then bounds are conformal. */
  readonly calibration?: CalibrationModel;
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
  /** Link name for {@link FittedModel.links}; `default` when absent. */
  readonly link?: string;
  /** Devices stepped in parallel (default) or one after another. */
  readonly serial?: boolean;
}

/** One component of a predicted blackout, for breakdowns and reports. */
export interface BlackoutPart {
  /** `vcpu-stop`, `arc` (source device arc), `transfer`, `dest-load` (destination arcs), `restart`. */
  readonly kind: 'vcpu-stop' | 'arc' | 'transfer' | 'dest-load' | 'restart';
  readonly deviceId?: string;
  readonly arc?: string;
  readonly medianMs: number;
  /** The part's own 1 − α quantile (before whole-VM calibration). */
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
  readonly parts: readonly BlackoutPart[];
  /** Device models or arcs with no model and no prior: the prediction must not be trusted. */
  readonly missing: readonly string[];
}
