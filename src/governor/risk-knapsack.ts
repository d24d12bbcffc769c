/**
 * Spending a fleet's miss allowance on the VMs least likely to miss: an online knapsack over
 * the attempts, with each VM's miss probability at its best case as its cost
 * (`estimators/term-risk.ts`, `best-case-risk.ts`).
 *
 * A threshold on each VM's own risk (`adaptive-alpha.ts`: commit when the bound at α_t fits)
 * leaves allowance unused whenever most VMs are nearly safe, and spends it on a VM at α_t as
 * readily as on one at α_t/100. Here the allowance is spent as a knapsack would: the level λ
 * for the next VM is the largest past risk r with
 *
 *   Σ { past risks ≤ r } ≤ A_t × (past VMs),   A_t = A_1 + γ (α·t − misses_t),
 *
 * so the cheapest VMs are taken first until their expected misses fill a budget of A_t per
 * attempt. The budget learns from the misses it sees (risks are model probabilities, not
 * guarantees): each miss lowers it by γ(1 − α), each attempt without one raises it by γα.
 *
 * The guarantee does not rest on the risks being right: no VM is offered a level while the
 * misses exceed α·t + `slack` (t attempts ended so far), so over any T attempts, in any order,
 * misses ≤ α·T + slack + 1 (+ the migrations in flight when feedback lags), as for adaptive α.
 *
 * Measured (fleet replay of the governor and the oracle, 300 held-out VMs, α = 1 %, useful share
 * as % of the oracle's; γ = 0.0025, slack 4, each VM decided first at twice its best-case risk
 * (1.2 times since, `sim/policies/governor.ts` `KNAPSACK_FIRST_RUNG`: seeds 1–10 99.5 % at 1.10 %),
 * the terms' rest scaled by the device arcs' spread, `estimators/term-risk.ts`): A_1 = α, seeds
 * 1–10 113, 99, 96, 91, 99, 99, 100, 99, 94, 87 (pooled 97.9 %, misses 1.17 %), development
 * seeds 11–20 104, 107, 101, 107, 95, 97, 81, 96, 105, 94 (99.2 %, 0.93 %), unseen seeds 21–25
 * 102, 113, 94, 106, 97 (102.7 %, 0.93 %); A_1 = 1.1α and 1.2α completed more (seeds 1–10
 * 99.1 and 100.9 %) at 1.33 % misses both. With the rest scaled by its median (the previous
 * terms) A_1 = 1.2α did best: seeds 1–10 106, 99, 95, 93, 95, 100, 97, 95, 93, 90 (1.10 %),
 * against 109, 98, 82, 90, 90, 97, 103, 90, 93, 97 (0.93 %) with adaptive α on the conformal
 * bound. The same knapsack on the conformal score's p-value spent twice the allowance (2.17 %
 * misses): that p-value understates the 1–5 % risks.
 */
import { checkOpenUnit, GovernorError } from './errors.js';

/** Options of {@link RiskKnapsack}. */
export interface RiskKnapsackOptions {
  /** The long-run miss rate promised per attempt, in (0, 1). */
  readonly alpha: number;
  /** A_1, expected misses per attempt the level spends at first; default {@link defaultKnapsackBudget}(α). */
  readonly budget?: number;
  /** γ ≥ 0, the budget's step per miss; default {@link DEFAULT_KNAPSACK_GAMMA}. */
  readonly gamma?: number;
  /** Misses beyond α·t before no VM may commit; default {@link DEFAULT_KNAPSACK_SLACK}. */
  readonly slack?: number;
  /** Risks seen before the level is learnt from them; default 20. */
  readonly warmup?: number;
  /** The level until then; default 2α. */
  readonly initialLevel?: number;
  /** Ceiling of the level, in (0, 1); default 0.25. */
  readonly maxLevel?: number;
  /** How many of the latest risks the level is learnt from (a drifting fleet forgets); default 1000. */
  readonly window?: number;
}

/** What a host persists and a report shows. */
export interface RiskKnapsackStatus {
  readonly alpha: number;
  readonly attempts: number;
  readonly misses: number;
  /** A_t, the budget per attempt now. */
  readonly budget: number;
  /** λ for the next VM ({@link RiskKnapsack.level}). */
  readonly level: number;
  readonly mayCommit: boolean;
  /** The misses the guarantee allows over the attempts so far: α·T + slack + 1. */
  readonly missAllowance: number;
}

/** A_1 = α: what the fleet replay measured (module comment). */
export function defaultKnapsackBudget(alpha: number): number {
  return alpha;
}
export const DEFAULT_KNAPSACK_GAMMA = 0.0025;
export const DEFAULT_KNAPSACK_SLACK = 4;

/** The allowance's allocator across a fleet's attempts. */
export class RiskKnapsack {
  readonly alpha: number;
  readonly budget1: number;
  readonly gamma: number;
  readonly slack: number;
  readonly warmup: number;
  readonly initialLevel: number;
  readonly maxLevel: number;
  readonly window: number;
  private readonly risks: number[] = [];
  private attemptCount = 0;
  private missCount = 0;

  constructor(options: RiskKnapsackOptions) {
    this.alpha = options.alpha;
    this.budget1 = options.budget ?? defaultKnapsackBudget(options.alpha);
    this.gamma = options.gamma ?? DEFAULT_KNAPSACK_GAMMA;
    this.slack = options.slack ?? DEFAULT_KNAPSACK_SLACK;
    this.warmup = options.warmup ?? 20;
    this.initialLevel = options.initialLevel ?? Math.min(2 * options.alpha, 0.25);
    this.maxLevel = options.maxLevel ?? 0.25;
    this.window = options.window ?? 1000;
    checkOpenUnit([['alpha', this.alpha], ['initialLevel', this.initialLevel], ['maxLevel', this.maxLevel]]);
    for (const [name, v] of [['budget', this.budget1], ['gamma', this.gamma], ['slack', this.slack]] as const) {
      if (!(v >= 0 && Number.isFinite(v))) throw new GovernorError('E_BAD_SLO', `${name} must be a finite number ≥ 0, got ${String(v)}`);
    }
    for (const [name, v] of [['warmup', this.warmup], ['window', this.window]] as const) {
      if (!(Number.isInteger(v) && v >= 1)) throw new GovernorError('E_BAD_SLO', `${name} must be an integer ≥ 1, got ${String(v)}`);
    }
  }

  /** A_t: the budget per attempt after the misses seen so far. */
  get budget(): number {
    return this.budget1 + this.gamma * (this.alpha * this.attemptCount - this.missCount);
  }

  /** Whether the next VM may commit at all: the misses are within α·t + slack and the budget is positive. */
  get mayCommit(): boolean {
    return this.missCount <= this.alpha * this.attemptCount + this.slack && this.budget > 0;
  }

  /**
   * λ for the next VM: it may commit when its risk is ≤ λ (and {@link mayCommit}). 0 when none
   * may commit, or when only VMs of risk 0 may.
   */
  level(): number {
    if (!this.mayCommit) return 0;
    const budget = this.budget;
    const seen = this.risks.length;
    if (seen < this.warmup) return this.initialLevel;
    const sorted = [...this.risks].sort((a, b) => a - b);
    const cap = budget * seen;
    let sum = 0;
    let level = 0;
    // Equal risks are taken together: a level admits every VM at it, so all of them must fit.
    for (let i = 0; i < sorted.length; i++) {
      const r = sorted[i] as number;
      if (r >= 1) break;
      sum += r;
      if (i + 1 < sorted.length && sorted[i + 1] === r) continue;
      if (sum > cap) break;
      level = r;
    }
    return Math.min(level, this.maxLevel);
  }

  /** One VM's risk at its best case, in [0, 1] (1: it cannot meet the deadline, or nothing says). */
  offer(risk: number): void {
    if (!(risk >= 0 && risk <= 1)) throw new GovernorError('E_BAD_SLO', `risk must be in [0, 1], got ${String(risk)}`);
    this.risks.push(risk);
    if (this.risks.length > this.window) this.risks.shift();
  }

  /** One attempt ended: `missed` when it committed and its blackout exceeded the deadline. */
  observe(missed: boolean): RiskKnapsackStatus {
    this.attemptCount++;
    if (missed) this.missCount++;
    return this.status();
  }

  status(): RiskKnapsackStatus {
    return {
      alpha: this.alpha,
      attempts: this.attemptCount,
      misses: this.missCount,
      budget: this.budget,
      level: this.level(),
      mayCommit: this.mayCommit,
      missAllowance: this.alpha * this.attemptCount + this.slack + 1,
    };
  }
}
