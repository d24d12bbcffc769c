import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/estimators/compile.js';
import { MigState } from '../../src/fsm/index.js';
import { bestCaseMissProbability } from '../../src/governor/best-case-risk.js';
import { GovernorError } from '../../src/governor/errors.js';
import { RiskKnapsack } from '../../src/governor/risk-knapsack.js';
import { calibratedSimModel, mlx5, vm, withTerms } from './fixtures.js';

describe('RiskKnapsack', () => {
  it('decides the first VMs at 2α, then at the largest risk whose cheaper VMs fill the budget', () => {
    const k = new RiskKnapsack({ alpha: 0.01, gamma: 0 });
    expect(k.level()).toBe(0.02);
    // 80 VMs at 0.1 %, 15 at 2 %, 5 at 50 %: a budget of 1 % × 100 = 1 expected miss.
    for (let i = 0; i < 80; i++) k.offer(0.001);
    for (let i = 0; i < 15; i++) k.offer(0.02 + i * 1e-4);
    for (let i = 0; i < 5; i++) k.offer(0.5);
    // 0.08 on the cheap ones, then every 2 % VM (0.08 + Σ_{i<15} (0.02 + i·1e-4) = 0.3905 ≤ 1), not the five 50 % VMs together.
    expect(k.level()).toBeCloseTo(0.0214, 12);
    expect(k.status()).toMatchObject({ attempts: 0, misses: 0, mayCommit: true });
  });

  it('charges a VM the level it committed at when that is above its offered risk, and so lowers the level of the VMs after it', () => {
    const k = new RiskKnapsack({ alpha: 0.01, budget: 0.01, gamma: 0 });
    // A budget of 1 expected miss over 100 VMs: 90 × 0.001 + 0.0005 + 9 × 0.1 = 0.9905 fits.
    for (let i = 0; i < 90; i++) k.offer(0.001);
    const late = k.offer(0.0005);
    for (let i = 0; i < 9; i++) k.offer(0.1);
    expect(k.level()).toBe(0.1);
    // It could not get near its best case and committed at λ = 0.1: ten VMs at 0.1 no longer fit.
    k.committedAt(late, 0.1);
    expect(late.risk).toBe(0.1);
    expect(k.level()).toBe(0.001);
    // A lower level never lowers a charge; a level outside [0, 1] and a charge of another kind are refused.
    k.committedAt(late, 0.001);
    expect(late.risk).toBe(0.1);
    expect(() => k.committedAt(late, 1.5)).toThrow(GovernorError);
    expect(() => k.committedAt({ risk: 0.1 }, 0.2)).toThrow(/not a charge this knapsack made/);
    expect(() => k.committedAt(new RiskKnapsack({ alpha: 0.01 }).offer(0.01), 0.2)).toThrow(/not a charge this knapsack made/);
  });

  it('admits equal risks together or not at all', () => {
    const k = new RiskKnapsack({ alpha: 0.01, budget: 0.01, gamma: 0 });
    for (let i = 0; i < 90; i++) k.offer(0.001);
    // One 50 % VM would fit the budget of 1 (0.09 + 0.5), all ten would not.
    for (let i = 0; i < 10; i++) k.offer(0.5);
    expect(k.level()).toBe(0.001);
  });

  it('lowers its budget by γ per miss beyond α·t and stops every commit once misses pass α·t + slack', () => {
    const k = new RiskKnapsack({ alpha: 0.01, budget: 0.012, gamma: 0.0025, slack: 4 });
    k.observe(true);
    expect(k.budget).toBeCloseTo(0.012 - 0.0025 * 0.99, 12);
    for (let i = 0; i < 4; i++) k.observe(true);
    // 5 misses in 5 attempts > 0.05 + 4.
    expect(k.mayCommit).toBe(false);
    expect(k.level()).toBe(0);
    expect(k.status().missAllowance).toBeCloseTo(0.05 + 5, 12);
  });

  it('never raises its budget above A_1 unless told to, and wins back what a miss took as α·t catches up', () => {
    const ceiling = new RiskKnapsack({ alpha: 0.01, budget: 0.01, gamma: 0.001 });
    for (let i = 0; i < 200; i++) ceiling.observe(false);
    expect(ceiling.budget).toBe(0.01);
    // A miss within α·t (2.01 here) costs nothing.
    ceiling.observe(true);
    expect(ceiling.budget).toBe(0.01);

    const k = new RiskKnapsack({ alpha: 0.01, budget: 0.01, gamma: 0.001 });
    k.observe(true);
    expect(k.budget).toBeCloseTo(0.01 - 0.001 * 0.99, 12);
    for (let i = 0; i < 49; i++) k.observe(false);
    expect(k.budget).toBeCloseTo(0.01 - 0.001 * 0.5, 12);
    for (let i = 0; i < 60; i++) k.observe(false);
    expect(k.budget).toBe(0.01);

    // rises: adaptive conformal's two-way step, γα per attempt without a miss.
    const rising = new RiskKnapsack({ alpha: 0.01, budget: 0.01, gamma: 0.001, rises: true });
    for (let i = 0; i < 200; i++) rising.observe(false);
    expect(rising.budget).toBeCloseTo(0.01 + 0.001 * 2, 12);
    expect(rising.status().budget).toBe(rising.budget);
  });

  it('keeps misses ≤ α·T + slack + 1 over any sequence when a VM commits only within its level', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.001, max: 0.2, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.integer({ min: 0, max: 10 }),
        fc.boolean(),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean()), { minLength: 1, maxLength: 1500 }),
        (alpha, budget, slack, rises, attempts) => {
          const k = new RiskKnapsack({ alpha, budget, slack, gamma: 0.01, rises });
          let misses = 0;
          for (const [risk, wantsMiss] of attempts) {
            const may = k.mayCommit && risk <= k.level();
            k.offer(risk);
            // The adversary: every VM that may commit misses when it wants to.
            const missed = may && wantsMiss;
            if (missed) misses++;
            k.observe(missed);
          }
          return misses <= alpha * attempts.length + slack + 1;
        },
      ),
      { numRuns: 200 },
    );
  });

  it('forgets the risks beyond its window', () => {
    const k = new RiskKnapsack({ alpha: 0.01, gamma: 0, window: 50, warmup: 10 });
    for (let i = 0; i < 50; i++) k.offer(0.3);
    expect(k.level()).toBe(0);
    for (let i = 0; i < 50; i++) k.offer(0.001);
    expect(k.level()).toBe(0.001);
  });

  it('refuses options and risks it cannot use, naming them', () => {
    expect(() => new RiskKnapsack({ alpha: 0 })).toThrow(new GovernorError('E_BAD_SLO', 'alpha must be in (0, 1), got 0'));
    expect(() => new RiskKnapsack({ alpha: 0.01, gamma: -1 })).toThrow('gamma must be a finite number ≥ 0, got -1');
    expect(() => new RiskKnapsack({ alpha: 0.01, window: 0 })).toThrow('window must be an integer ≥ 1, got 0');
    expect(() => new RiskKnapsack({ alpha: 0.01 }).offer(Number.NaN)).toThrow('risk must be in [0, 1], got NaN');
  });
});

describe('bestCaseMissProbability', () => {
  const model = compileModel(withTerms(calibratedSimModel()), { bound: 'terms' });

  it('is the risk with no RAM left, an idle guest and the pre-copy data sent, below the risk now', () => {
    const pending = mlx5('nic', { initialBytes: 200 * 2 ** 20, stopCopyBytes: 400 * 2 ** 20 });
    const now = vm([pending], { ramRemainingBytes: 2 * 2 ** 30 });
    const best = bestCaseMissProbability(now, model, 300)!;
    const drained = bestCaseMissProbability(vm([mlx5('nic', { stopCopyBytes: 200 * 2 ** 20 - 2 ** 20, dirtyBytes: 0 })], { ramRemainingBytes: 0, ramDirtyBytesPerS: 0 }), model, 300)!;
    expect(best).toBeCloseTo(drained, 12);
    expect(best).toBeGreaterThan(0);
    expect(best).toBeLessThan(bestCaseMissProbability(vm([mlx5('nic', { stopCopyBytes: 400 * 2 ** 20 })]), model, 300)!);
    expect(bestCaseMissProbability(now, model, 100_000)).toBe(0);
  });

  it('is 1 for a VM nothing can be said of, and undefined for a model without terms', () => {
    expect(bestCaseMissProbability(vm([mlx5('nic', { state: MigState.ERROR })]), model, 300)).toBe(1);
    expect(bestCaseMissProbability(vm([mlx5('nic', { stopCopyBytes: null })]), model, 300)).toBe(1);
    expect(bestCaseMissProbability(vm([mlx5('nic', { model: 'unknown-vf' })]), model, 300)).toBe(1);
    expect(bestCaseMissProbability(vm([mlx5('nic')]), compileModel(calibratedSimModel()), 300)).toBeUndefined();
  });
});
