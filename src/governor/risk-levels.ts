/**
 * Deciding at the lowest risk still in reach: `decide()` at a ladder of miss levels α₁ < α₂ < …,
 * taking the first level at which the deadline can still be met (by committing, waiting or
 * throttling) — a VM that can drain to a bound at a lower level waits for it instead of
 * committing at the first bound that fits the higher one; a VM that cannot (its devices, its
 * budget) is decided at the next level, as before.
 *
 * Why: a commit at level a misses with probability ≤ a (the conformal promise, exchangeable
 * case), so every commit made at a lower level leaves miss allowance (`adaptive-alpha.ts`) to
 * the VMs that can only be served at the higher one. Fleet seeds 1–10 (300 held-out VMs, α = 1 %,
 * levels [max(α_t/4, largest score), α_t]; replay of the governor and the oracle): useful share
 * as % of the oracle's 108, 94, 65, 85, 94, 94, 105, 94, 94, 94 against 108, 94, 65, 85, 94, 85,
 * 105, 91, 92, 83 deciding at α_t alone, pooled 58.5 % against 56.9 %, misses 1.00 % both, paired
 * time ≤ 0.994× (1.002×); development seeds 11–20: 95, 99, 95, 104, 85, 101, 75, 95, 98, 81
 * against 95, 96, 95, 93, 85, 102, 75, 95, 98, 81, misses 0.90 % against 0.97 %. The price: a
 * few more VMs throttled (63/48/47/57 against 61/41/39/44 of 300 on seeds 1, 3, 6, 10) and mean
 * total time +0.1 to +7 %. A third, higher level (2 α_t) completed more (seeds 11–20 worst 84 %
 * with γ = 0.005) but missed 1.27–1.37 % pooled: not kept.
 */
import type { CompiledModel } from '../estimators/predict.js';
import { decisionAlpha } from './adaptive-alpha.js';
import { decide } from './decide.js';
import { GovernorError } from './errors.js';
import type { Decision, DecisionReason, Slo, VmSnapshot } from './types.js';

/** Aborts that a higher level can lift: the bound, not the VM, is what does not fit. */
const LEVEL_BOUND: ReadonlySet<DecisionReason> = new Set<DecisionReason>(['DEADLINE_UNREACHABLE', 'STOP_COPY_ONLY_DEVICE_TOO_SLOW', 'BUDGET_INSUFFICIENT']);

/** What {@link decideAtLowestLevel} chose. */
export interface LeveledDecision {
  readonly decision: Decision;
  /** Index into the levels of the level decided at (pass it back as `from` at the next poll). */
  readonly level: number;
}

/**
 * The governor's ladder under a top level `alpha` with `n` calibration scores: [max(α/4, 1/(n+1)),
 * α] — a quarter of the risk first, never below the largest score ({@link decisionAlpha}) — or
 * [α] alone when the two meet: what the fleet benchmark measured (module comment).
 */
export function governorLadder(alpha: number, n: number): number[] {
  const low = decisionAlpha(alpha / 4, n);
  return low < alpha ? [low, alpha] : [alpha];
}

/**
 * `decide()` at `levels[from]`, then at each higher level while the answer is an abort a higher
 * level can lift ({@link LEVEL_BOUND}); `slo.alpha` is ignored. Levels must be ascending in
 * (0, 1). An abort no level lifts (a device in ERROR, the budget spent, a missing model) is
 * returned at the level it was met.
 */
export function decideAtLowestLevel(snapshot: VmSnapshot, model: CompiledModel, slo: Slo, levels: readonly number[], from = 0): LeveledDecision {
  if (levels.length === 0 || levels.some((a, i) => i > 0 && !(a > (levels[i - 1] as number)))) {
    throw new GovernorError('E_BAD_SLO', `levels must be ascending and not empty, got [${levels.join(', ')}]`);
  }
  let level = Math.min(Math.max(0, from), levels.length - 1);
  let decision = decide(snapshot, model, { ...slo, alpha: levels[level] as number });
  while (decision.action === 'abort' && LEVEL_BOUND.has(decision.reason) && level + 1 < levels.length) {
    level++;
    decision = decide(snapshot, model, { ...slo, alpha: levels[level] as number });
  }
  return { decision, level };
}
