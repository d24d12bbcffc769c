/**
 * Watching calibration: the bound promises P(actual > bound) ≤ α on migrations exchangeable with
 * the calibration ones. Over a sliding window of committed switchovers the estimators'
 * `driftTest()` (exact one-sided test, Beta-binomial given the calibration size,
 * `estimators/conformal.ts`) says when exceedances are improbably many: hosts, firmware or
 * workload changed, and the model needs recalibrating.
 */
import { driftTest } from '../estimators/conformal.js';
import { GovernorError } from './errors.js';

/** What the watcher sees of one committed switchover (an `outcome` record fits). */
export interface ObservedOutcome {
  readonly predictedBlackoutMs: number;
  readonly actualBlackoutMs: number;
  /** Actual blackout within the deadline. */
  readonly met: boolean;
}

/** Coverage over the window. */
export interface CalibrationStatus {
  readonly n: number;
  readonly alpha: number;
  /** Outcomes whose actual blackout exceeded the predicted 1 − α bound. */
  readonly exceedances: number;
  readonly exceedanceRate: number;
  /** Outcomes that missed their deadline (≤ exceedances, as commits need bound ≤ deadline). */
  readonly misses: number;
  readonly missRate: number;
  /** P(≥ exceedances) under a healthy model (Beta-binomial with `calibrationSize`, else binomial): small means drift. */
  readonly pValue: number;
  /** `pValue < significance` with at least `minSamples` outcomes. */
  readonly drifting: boolean;
}

export interface CalibrationWatcherOptions {
  readonly alpha: number;
  /** Outcomes kept. Default 200. */
  readonly window?: number;
  /** Test level. Default 0.01. */
  readonly significance?: number;
  /** No verdict below this many outcomes. Default 20. */
  readonly minSamples?: number;
  /**
   * Calibration scores of the model whose bounds are watched (`calibration.n`): the test then
   * allows for that one set's luck (Beta-binomial, `driftTest`), so a healthy model alarms at
   * most at `significance` per check. Omitted: the binomial test, which alarms 3–8× as often
   * when all bounds come from one fixed calibration set.
   */
  readonly calibrationSize?: number;
}

/** Sliding-window coverage test of the governor's bounds. */
export class CalibrationWatcher {
  readonly alpha: number;
  private readonly window: number;
  private readonly significance: number;
  private readonly minSamples: number;
  private readonly calibrationSize: number | undefined;
  private readonly boundMs: Float64Array;
  private readonly actualMs: Float64Array;
  private readonly missed: Uint8Array;
  private count = 0;
  private head = 0;

  constructor(options: CalibrationWatcherOptions) {
    this.alpha = options.alpha;
    this.window = options.window ?? 200;
    this.significance = options.significance ?? 0.01;
    this.minSamples = options.minSamples ?? 20;
    this.calibrationSize = options.calibrationSize;
    if (this.calibrationSize !== undefined && !(Number.isInteger(this.calibrationSize) && this.calibrationSize >= 1)) {
      throw new GovernorError('E_BAD_REQUEST', `calibrationSize must be an integer ≥ 1, got ${String(this.calibrationSize)}`);
    }
    if (!(this.alpha > 0 && this.alpha < 1)) throw new GovernorError('E_BAD_SLO', `alpha must be in (0, 1), got ${String(this.alpha)}`);
    if (!Number.isInteger(this.window) || this.window < 1) {
      throw new GovernorError('E_BAD_REQUEST', `window must be an integer ≥ 1, got ${String(this.window)}`);
    }
    this.boundMs = new Float64Array(this.window);
    this.actualMs = new Float64Array(this.window);
    this.missed = new Uint8Array(this.window);
  }

  /** Adds one outcome (the oldest drops out of a full window) and returns the new status. */
  observe(o: ObservedOutcome): CalibrationStatus {
    this.boundMs[this.head] = o.predictedBlackoutMs;
    this.actualMs[this.head] = o.actualBlackoutMs;
    this.missed[this.head] = o.met ? 0 : 1;
    this.head = (this.head + 1) % this.window;
    this.count = Math.min(this.count + 1, this.window);
    return this.status();
  }

  status(): CalibrationStatus {
    const n = this.count;
    const pairs: Array<{ boundMs: number; actualMs: number }> = [];
    let misses = 0;
    for (let i = 0; i < n; i++) {
      pairs.push({ boundMs: this.boundMs[i]!, actualMs: this.actualMs[i]! });
      misses += this.missed[i]!;
    }
    const drift = driftTest(pairs, this.alpha, {
      significance: this.significance,
      ...(this.calibrationSize === undefined ? {} : { calibrationSize: this.calibrationSize }),
    });
    return {
      n,
      alpha: this.alpha,
      exceedances: drift.misses,
      exceedanceRate: drift.missRate,
      misses,
      missRate: n === 0 ? 0 : misses / n,
      pValue: drift.pValue,
      drifting: n >= this.minSamples && drift.recalibrate,
    };
  }
}
