import { describe, expect, it } from 'vitest';
import type { DecisionEntry } from '../../src/app/watch/watch-types.js';
import { WatchTextFormat } from '../../src/cli/watch-format.js';
import { compileModel } from '../../src/estimators/predict.js';
import { decide } from '../../src/governor/index.js';
import type { VmSnapshot } from '../../src/governor/types.js';
import { GiB, mlx5, simTruthModel, vm } from '../governor/fixtures.js';

const model = compileModel(simTruthModel());

function line(s: VmSnapshot, deadlineMs: number): string {
  const entry: DecisionEntry = {
    type: 'decision', tMs: 1000, atMs: 1000, status: 'active', pass: 9, remainingBytes: s.ramRemainingBytes,
    dirtyBytesPerS: s.ramDirtyBytesPerS, bandwidthBytesPerS: s.precopyBandwidthBytesPerS, cpuThrottlePercent: null,
    decision: decide(s, model, { deadlineMs, alpha: 0.05, budgetMs: 60_000 }), acted: false,
  };
  return new WatchTextFormat().format(entry).join('\n');
}

describe('watch text: QEMU passes that stopped shrinking', () => {
  const s = vm([mlx5('a')], { ramRemainingBytes: 4 * GiB });
  const deadlineMs = decide({ ...s, ramRemainingBytes: 256 * 2 ** 20 }, model, { deadlineMs: 1e6, alpha: 0.05, budgetMs: 60_000 }).predictedBlackoutMs;

  it('says pre-copy is not converging on its own, at which level, and the time to completion if throttled', () => {
    const text = line({ ...s, ramPassStartBytes: [1.1, 1.0, 1.05, 1.0, 1.1, 1.02].map((g) => g * GiB) }, deadlineMs);
    expect(text).toMatch(/throttle NOT_CONVERGING: .*; passes level off at 1(\.0+)? GiB: not converging on its own; dirty rate to reach: .*; done in /);
  });

  it('says nothing of passes while they shrink', () => {
    const text = line({ ...s, ramPassStartBytes: [4, 3, 2.2, 1.6, 1.1, 0.8].map((g) => g * GiB) }, deadlineMs);
    expect(text).toContain('wait CONVERGING');
    expect(text).not.toContain('passes level off');
  });
});
