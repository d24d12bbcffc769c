import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ecdf, summarisePolicies, worstOutcomes } from '../../src/report/outcome-stats.js';
import type { OutcomeRecord } from '../../src/records/records.js';

function outcome(migrationId: string, policy: string, actualBlackoutMs: number, predictedBlackoutMs = 300, deadlineMs = 300): OutcomeRecord {
  return { kind: 'outcome', migrationId, policy, deadlineMs, decidedAtMs: 0, predictedBlackoutMs, actualBlackoutMs, met: actualBlackoutMs <= deadlineMs };
}

describe('ecdf', () => {
  it('steps once per distinct value, a tie counting all its copies', () => {
    expect(ecdf([3, 1, 2, 2], 100)).toEqual([
      { value: 1, share: 0.25 },
      { value: 2, share: 0.75 },
      { value: 3, share: 1 },
    ]);
  });

  it('thins a large sample to at most maxPoints steps, keeping the minimum and the maximum exact', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 3000 }), fc.integer({ min: 2, max: 200 }), (values, max) => {
        const steps = ecdf(values, max);
        const sorted = [...values].sort((a, b) => a - b);
        expect(steps.length).toBeLessThanOrEqual(max);
        expect(steps[0]!.value).toBe(sorted[0]);
        expect(steps.at(-1)).toEqual({ value: sorted.at(-1), share: 1 });
        for (const s of steps) expect(s.share).toBe(sorted.filter((v) => v <= s.value).length / sorted.length);
      }),
      { numRuns: 60 },
    );
  });

  it('is empty for no values', () => {
    expect(ecdf([], 10)).toEqual([]);
  });
});

describe('worstOutcomes and summarisePolicies', () => {
  const list = [outcome('a', 'governor', 250), outcome('b', 'governor', 420), outcome('c', 'qemu', 310, 200), outcome('d', 'qemu', 290, 280)];

  it('orders by how far past the deadline, misses first, and cuts at the limit', () => {
    expect(worstOutcomes(list, 3).map((o) => o.migrationId)).toEqual(['b', 'c', 'd']);
    expect(worstOutcomes(list, 0).map((o) => o.migrationId)).toEqual(['b', 'c', 'd', 'a']);
  });

  it('counts deadlines met and blackouts above the predicted bound per policy', () => {
    expect(summarisePolicies(list).map((s) => [s.policy, s.n, s.metShare, s.aboveBoundShare, s.maxBlackoutMs])).toEqual([
      ['governor', 2, 0.5, 0.5, 420],
      ['qemu', 2, 0.5, 1, 310],
    ]);
  });
});
