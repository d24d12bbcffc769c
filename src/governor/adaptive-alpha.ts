/**
 * Online adaptive conformal control of the miss rate (Gibbs & Candès, "Adaptive Conformal
 * Inference Under Distribution Shift", NeurIPS 2021, update (2) and Proposition 4.1), applied to
 * what the SLO promises: deadline misses per **attempted** migration.
 *
 * The governor decides every attempt t with an effective level α_t, then learns
 * err_t = 1 when the attempt committed and missed its deadline, 0 otherwise (completed within the
 * deadline, aborted, cancelled, failed before the vCPUs stopped), and updates
 *
 *   α_{t+1} = min(α_max, α_t + γ (α − err_t)).
 *
 * The guarantee holds for **any** sequence of migrations — no exchangeability, no model
 * assumption — because α_t ≤ 0 means "do not commit" (so err_t = 0 and α only rises from there):
 * α_t never falls below −γ, and summing the updates gives, for every T,
 *
 *   misses over T attempts ≤ α·T + (α_1 + γ)/γ.
 *
 * (Clipping at α_max only lowers α_{T+1}, which keeps the inequality.) With α = α_1 = 0.01 and
 * γ = 0.01 that is at most 2 misses beyond α·T: ≤ 1.67 % over 300 attempts, → α as T grows.
 * The per-attempt conformal promise P(actual ≤ bound) ≥ 1 − α_t still holds for each decision
 * made at a level α_t when the migration is exchangeable with the calibration ones; the long-run
 * miss rate above is what holds when it is not.
 *
 * Why misses and not bound exceedances: a blackout over its bound but within the deadline costs
 * the operator nothing, and one stall among ~220 calibration scores otherwise sets the α = 1 %
 * bound for every VM (`estimators/conformal.ts`). Feedback arrives one migration late in a
 * sequential stream; with d migrations in flight the bound gains d misses at most.
 */
import { checkOpenUnit } from './errors.js';

/**
 * The level a decision is made at when α_t > 0 and the bound is conformal on `n` scores:
 * max(α_t, 1/(n+1)), i.e. the largest score instead of no conformal bound at all.
 *
 * Why: after a miss α_t falls to ~α − γ(1 − α) (0.0001 at α = γ = 0.01), below 1/(n+1) ≈ 0.0045
 * for n ≈ 220; the conformal rank then exceeds n and the predictor falls back to its union bound,
 * which almost never fits — the governor stopped committing for ~100 attempts after one miss
 * (fleet seeds 3 and 10). The long-run guarantee of {@link AdaptiveAlpha} needs only that an
 * attempt at α_t ≤ 0 does not commit; what bound is used while α_t > 0 does not enter it, so
 * misses over T attempts stay ≤ α·T + (α_1 + γ)/γ. The per-decision conformal promise at such an
 * attempt is P(actual ≤ bound) ≥ 1 − 1/(n+1) (exchangeable case), not 1 − α_t.
 * α_t ≤ 0, or `n` = 0 (uncalibrated model), is returned unchanged.
 */
export function decisionAlpha(alphaT: number, n: number): number {
  if (!(alphaT > 0) || !(n > 0)) return alphaT;
  return Math.max(alphaT, 1 / (n + 1));
}

/** Options of {@link AdaptiveAlpha}. */
export interface AdaptiveAlphaOptions {
  /** The long-run miss rate promised, per attempted migration, in (0, 1). */
  readonly alpha: number;
  /** Step size γ > 0. Default 0.01: a miss lowers α_t by ~γ; each attempt without one raises it by γα. */
  readonly gamma?: number;
  /** Starting level α_1 ∈ (0, 1). Default `alpha`. */
  readonly initialAlpha?: number;
  /** Ceiling of α_t, in (0, 1). Default 0.25: never bet on a bound below the 75th percentile. */
  readonly maxAlpha?: number;
}

/** State of {@link AdaptiveAlpha} (what a host persists across restarts). */
export interface AdaptiveAlphaStatus {
  readonly alpha: number;
  readonly gamma: number;
  /** α_t for the next attempt; ≤ 0 means do not commit. */
  readonly current: number;
  readonly attempts: number;
  readonly misses: number;
  /** The misses the guarantee allows over the attempts so far: α·T + (α_1 + γ)/γ. */
  readonly missAllowance: number;
}

/** Default step size γ (see {@link AdaptiveAlphaOptions.gamma}). */
export const DEFAULT_ACI_GAMMA = 0.01;
/** Default ceiling of α_t. */
export const DEFAULT_ACI_MAX_ALPHA = 0.25;

/** α_t for the next migration, updated from each attempt's outcome. */
export class AdaptiveAlpha {
  readonly alpha: number;
  readonly gamma: number;
  readonly initialAlpha: number;
  readonly maxAlpha: number;
  private alphaT: number;
  private attemptCount = 0;
  private missCount = 0;

  constructor(options: AdaptiveAlphaOptions) {
    this.alpha = options.alpha;
    this.gamma = options.gamma ?? DEFAULT_ACI_GAMMA;
    this.initialAlpha = options.initialAlpha ?? options.alpha;
    this.maxAlpha = options.maxAlpha ?? DEFAULT_ACI_MAX_ALPHA;
    checkOpenUnit([['alpha', this.alpha], ['initialAlpha', this.initialAlpha], ['maxAlpha', this.maxAlpha], ['gamma', this.gamma]]);
    this.alphaT = Math.min(this.initialAlpha, this.maxAlpha);
  }

  /** α_t for the next attempt; ≤ 0: the next attempt must not commit. */
  get current(): number {
    return this.alphaT;
  }

  /** Whether the next attempt may commit at all (α_t > 0). */
  get mayCommit(): boolean {
    return this.alphaT > 0;
  }

  /** One attempt ended: `missed` when it committed and its blackout exceeded the deadline. */
  observe(missed: boolean): AdaptiveAlphaStatus {
    this.attemptCount++;
    if (missed) this.missCount++;
    this.alphaT = Math.min(this.maxAlpha, this.alphaT + this.gamma * (this.alpha - (missed ? 1 : 0)));
    return this.status();
  }

  status(): AdaptiveAlphaStatus {
    return {
      alpha: this.alpha,
      gamma: this.gamma,
      current: this.alphaT,
      attempts: this.attemptCount,
      misses: this.missCount,
      missAllowance: this.alpha * this.attemptCount + (this.initialAlpha + this.gamma) / this.gamma,
    };
  }
}
