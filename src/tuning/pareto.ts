/**
 * The trade-off table: when no setting meets both the deadline and the budget, the operator has
 * to give up one of throttle, time or blackout. Every candidate setting contributes the point
 * where it switches within the budget (`fits`), or two points when it cannot — switching over at
 * the budget with what is then pending (`forced`, KubeVirt's "hard stop-and-copy"),
 * and waiting past the budget until the bound fits (`fits-later`) — or, when it never fits,
 * switching over later with less pending (`forced-later`). Only points no other point
 * beats on all three axes (slowdown, total time, blackout bound) are kept.
 */
import { evaluate, mechanismOf, qemuCommands, type Evaluation, type TuneContext } from './evaluate.js';
import type { ThrottleSetting, TradeOff } from './types.js';

/** Rows kept in the table at most. */
export const MAX_TRADE_OFFS = 8;
/** How far past the budget `fits-later` looks, × budget. */
const LATER_FACTOR = 10;

function point(ctx: TuneContext, e: Evaluation, when: TradeOff['when']): TradeOff {
  const p = e.predicted;
  return {
    mechanism: mechanismOf(e.setting),
    setting: e.setting,
    parameters: qemuCommands(ctx, e).parameters,
    when,
    slowdown: p.slowdown,
    vcpuSlowdown: p.vcpuSlowdown,
    totalTimeMs: p.totalTimeMs,
    blackoutMedianMs: p.blackoutMedianMs,
    blackoutBoundMs: p.blackoutBoundMs,
    meetsDeadline: p.meetsDeadline,
    withinBudget: p.precopyMs + p.blackoutBoundMs <= ctx.input.budgetMs,
  };
}

/** a is at least as good as b everywhere and better somewhere. */
function dominates(a: TradeOff, b: TradeOff): boolean {
  const le = a.slowdown <= b.slowdown && a.totalTimeMs <= b.totalTimeMs && a.blackoutBoundMs <= b.blackoutBoundMs;
  const lt = a.slowdown < b.slowdown || a.totalTimeMs < b.totalTimeMs || a.blackoutBoundMs < b.blackoutBoundMs;
  return le && lt;
}

/** The non-dominated subset, by slowdown then time; at most `max` rows, spread over the slowdown range. */
export function paretoFront(points: readonly TradeOff[], max = MAX_TRADE_OFFS): TradeOff[] {
  const front = points.filter((p, i) => !points.some((q, j) => j !== i && dominates(q, p)));
  // Identical points (two settings with the same effect): keep the first.
  const unique = front.filter((p, i) => front.findIndex((q) => q.slowdown === p.slowdown && q.totalTimeMs === p.totalTimeMs && q.blackoutBoundMs === p.blackoutBoundMs) === i);
  unique.sort((a, b) => a.slowdown - b.slowdown || a.totalTimeMs - b.totalTimeMs || a.blackoutBoundMs - b.blackoutBoundMs);
  if (unique.length <= max) return unique;
  const picked: TradeOff[] = [];
  for (let k = 0; k < max; k++) picked.push(unique[Math.round((k * (unique.length - 1)) / (max - 1))]!);
  return picked;
}

/** The trade-off table over `settings`. */
export function tradeOffs(ctx: TuneContext, settings: readonly ThrottleSetting[]): TradeOff[] {
  const budget = ctx.input.budgetMs;
  const points: TradeOff[] = [];
  for (const s of settings) {
    const inBudget = evaluate(ctx, s, budget);
    if (inBudget.reachable && inBudget.predicted.converged) {
      points.push(point(ctx, inBudget, 'fits'));
      continue;
    }
    points.push(point(ctx, inBudget, 'forced'));
    const later = evaluate(ctx, s, budget * LATER_FACTOR);
    if (later.reachable && later.predicted.converged) points.push(point(ctx, later, 'fits-later'));
    else if (later.run.pendingBytes < inBudget.run.pendingBytes) points.push(point(ctx, later, 'forced-later'));
  }
  return paretoFront(points);
}
