import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { conformalRank } from '../../src/estimators/conformal.js';
import { AdaptiveAlpha, decisionAlpha } from '../../src/governor/adaptive-alpha.js';
import { GovernorError } from '../../src/governor/errors.js';

describe('AdaptiveAlpha', () => {
  it('starts at alpha, rises by gamma·alpha per attempt without a miss and falls by gamma·(1 − alpha) per miss', () => {
    const a = new AdaptiveAlpha({ alpha: 0.01, gamma: 0.1 });
    expect(a.current).toBe(0.01);
    a.observe(false);
    expect(a.current).toBeCloseTo(0.011, 12);
    a.observe(true);
    expect(a.current).toBeCloseTo(0.011 - 0.099, 12);
    expect(a.mayCommit).toBe(false);
    expect(a.status()).toMatchObject({ attempts: 2, misses: 1 });
  });

  it('never rises above its ceiling', () => {
    const a = new AdaptiveAlpha({ alpha: 0.1, gamma: 0.5, maxAlpha: 0.2 });
    for (let i = 0; i < 100; i++) a.observe(false);
    expect(a.current).toBe(0.2);
  });

  it('keeps misses ≤ α·T + (α₁ + γ)/γ over any sequence in which an attempt at α_t ≤ 0 does not commit', () => {
    // The adversary chooses every outcome; it can only make an attempt miss when the governor may commit.
    fc.assert(
      fc.property(
        fc.double({ min: 0.001, max: 0.2, noNaN: true }),
        fc.double({ min: 0.001, max: 0.5, noNaN: true }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 2000 }),
        (alpha, gamma, wantsMiss) => {
          const a = new AdaptiveAlpha({ alpha, gamma, maxAlpha: 0.9 });
          let misses = 0;
          for (const w of wantsMiss) {
            const missed = w && a.mayCommit;
            if (missed) misses++;
            a.observe(missed);
          }
          const T = wantsMiss.length;
          expect(misses).toBeLessThanOrEqual(alpha * T + (alpha + gamma) / gamma + 1e-9);
          expect(a.status().missAllowance).toBeCloseTo(alpha * T + (alpha + gamma) / gamma, 9);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses levels outside (0, 1) with E_BAD_SLO', () => {
    expect(() => new AdaptiveAlpha({ alpha: 0 })).toThrow(GovernorError);
    expect(() => new AdaptiveAlpha({ alpha: 0.01, gamma: 1 })).toThrow(expect.objectContaining({ code: 'E_BAD_SLO' }));
    expect(() => new AdaptiveAlpha({ alpha: 0.01, maxAlpha: 1.5 })).toThrow(expect.objectContaining({ code: 'E_BAD_SLO' }));
  });

  it('decides a positive α_t too small for a conformal rank at the largest score, and leaves α_t ≤ 0 alone', () => {
    // One miss at α = γ = 0.01 leaves α_t = 0.0001: rank ⌈(n+1)(1 − α_t)⌉ > n, no conformal bound.
    const a = new AdaptiveAlpha({ alpha: 0.01, gamma: 0.01 });
    a.observe(true);
    expect(conformalRank(220, a.current)).toBeGreaterThan(220);
    expect(conformalRank(220, decisionAlpha(a.current, 220))).toBe(220);
    for (const n of [99, 150, 220, 299, 1000]) expect(conformalRank(n, decisionAlpha(1e-6, n))).toBe(n);
    expect(decisionAlpha(0.05, 220)).toBe(0.05);
    expect(decisionAlpha(0, 220)).toBe(0);
    expect(decisionAlpha(-0.005, 220)).toBe(-0.005);
    expect(decisionAlpha(0.0001, 0)).toBe(0.0001);
  });
});
