import { beforeAll, describe, expect, it } from 'vitest';
import { fitModel } from '../../src/estimators/fit.js';
import { compileModel, type CompiledModel } from '../../src/estimators/predict.js';
import { CalibrationWatcher } from '../../src/governor/index.js';
import { Rng } from '../../src/sim/rng.js';
import type { OutcomeRecord } from '../../src/records/records.js';
import { arraySink, simTruthModel } from './fixtures.js';
import { simulateMigration } from './sim-migration.js';

/**
 * The closed loop: the simulator's own records (every arc the wrapper ran, sizes, RAM, transfers,
 * outcomes) fit the model the governor then decides with, so the simulator draws from the
 * fitted distribution. Committed switchovers must then miss at most α of the time, within
 * sampling error — the product's promise.
 */
let fitted: CompiledModel;

beforeAll(async () => {
  const sink = arraySink();
  const rng = new Rng(2026);
  const prior = compileModel(simTruthModel());
  // Calibration migrations: a generous deadline, so every one commits and has an outcome.
  for (let i = 0; i < 300; i++) await simulateMigration(`cal-${i}`, rng, prior, sink, () => 1e6, 0.1);
  fitted = compileModel(fitModel(sink.records, simTruthModel(), { name: 'closed-loop' }));
});

/** Upper end of the 3σ band of a Binomial(n, α) count. */
const upper = (n: number, alpha: number): number => n * alpha + 3 * Math.sqrt(n * alpha * (1 - alpha));

describe('closed loop on the simulator', () => {
  it.each([0.1, 0.05])('keeps the miss rate of committed switchovers within α = %s', async (alpha) => {
    const rng = new Rng(alpha === 0.1 ? 11 : 12);
    const sink = arraySink();
    const watcher = new CalibrationWatcher({ alpha, window: 1000 });
    let committed = 0;
    let misses = 0;
    let exceedances = 0;
    for (let i = 0; i < 800; i++) {
      // Deadlines from the predicted median to past the bound: where committing is a real decision
      // (committing on the median alone would miss far more than α here).
      const deadlineFor = (median: number, bound: number): number => median + rng.uniform(0, 1.5) * (bound - median);
      const { result, deadlineMs, actualBlackoutMs } = await simulateMigration(`run-${i}`, rng, fitted, sink, deadlineFor, alpha);
      if (!result.committed) continue;
      committed++;
      if (actualBlackoutMs > deadlineMs) misses++;
      if (actualBlackoutMs > result.decision!.predictedBlackoutMs) exceedances++;
    }
    const outcomes = sink.records.filter((r): r is OutcomeRecord => r.kind === 'outcome');
    for (const o of outcomes) watcher.observe(o);
    // Enough commits to say something, and every one recorded with its outcome.
    expect(committed).toBeGreaterThan(150);
    expect(outcomes).toHaveLength(committed);
    expect(misses).toBeLessThanOrEqual(upper(committed, alpha));
    // The bound itself is calibrated: actual > bound at most α of the time.
    expect(exceedances).toBeLessThanOrEqual(upper(committed, alpha));
    expect(watcher.status()).toMatchObject({ n: committed, exceedances, misses, drifting: false });
  });

  it('sees calibration drift when the world changes under the model (link 3× slower)', async () => {
    const rng = new Rng(13);
    const watcher = new CalibrationWatcher({ alpha: 0.1, window: 200 });
    const sink = arraySink();
    for (let i = 0; i < 200 && watcher.status().n < 100; i++) {
      const { result } = await simulateMigration(`slow-${i}`, rng, fitted, sink, () => 1e6, 0.1, 1 / 3);
      if (result.committed) watcher.observe(sink.records.at(-1) as OutcomeRecord);
    }
    const status = watcher.status();
    expect(status.n).toBe(100);
    expect(status.exceedanceRate).toBeGreaterThan(0.3);
    expect(status.drifting).toBe(true);
  });
});
