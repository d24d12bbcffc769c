import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fitModel } from '../../src/estimators/fit.js';
import { compileModel } from '../../src/estimators/predict.js';
import { MigState } from '../../src/fsm/index.js';
import { DeadlineSetState, decide } from '../../src/governor/index.js';
import { VirtualClock } from '../../src/sim/clock.js';
import { Rng } from '../../src/sim/rng.js';
import { SimDevice } from '../../src/sim/sim-device.js';
import { iterateArcs, listMigrations, outcomes, ramProgress, sizes, tableCounts, transfers } from '../../src/store/index.js';
import { openStore, type Store } from '../../src/store/store.js';
import type { TelemetryRecord } from '../../src/records/records.js';
import { countingRecorder } from '../helpers/recording.js';
import { MiB, mlx5, simTruthModel, vm } from './fixtures.js';
import { simulateMigration } from './sim-migration.js';

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Every record the store holds, as the fitter reads them. */
function storedRecords(store: Store): TelemetryRecord[] {
  const out: TelemetryRecord[] = [...iterateArcs(store), ...transfers(store), ...outcomes(store)];
  for (const m of listMigrations(store)) out.push(...ramProgress(store, m.migrationId), ...sizes(store, m.migrationId));
  return out;
}

describe('DeadlineSetState through the recording pipeline into SQLite', () => {
  it('stores every arc (unwinds included), size, RAM poll and outcome, and a model fitted from the file governs the next migration', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vfio-sla-governor-'));
    const store = openStore(join(dir, 'loop.db'));
    const { pipeline, sink, pushed, errors } = countingRecorder(store);

    // Committed migrations with outcomes...
    const rng = new Rng(5);
    const prior = compileModel(simTruthModel());
    for (let i = 0; i < 40; i++) await simulateMigration(`m${i}`, rng, prior, sink, () => 1e6, 0.05);
    // ...and one that failed and was unwound.
    const clock = new VirtualClock();
    const devs = [0, 1].map((i) => new SimDevice({ id: `u${i}`, profile: 'mlx5-cx7', clock, rng: i, stateBytes: 100 * MiB }));
    devs[1]!.injectFault({ kind: 'arc-fail', arc: 'STOP>STOP_COPY', after: 'along-path' });
    const unwound = await new DeadlineSetState(devs, { model: prior, sink, clock, migrationId: 'unwound' }).setState(MigState.STOP_COPY, { deadlineMs: 1e6 });
    expect(unwound.outcome).toBe('UNWOUND_ARC_FAILED');

    await pipeline.flush();
    expect(errors).toEqual([]);
    const counts = tableCounts(store);
    expect(counts.arcs + counts.sizes + counts.transfers + counts.ram_progress + counts.outcomes).toBe(pushed());
    expect(counts.outcomes).toBe(40);
    const unwindArcs = [...iterateArcs(store)].filter((a) => a.migrationId === 'unwound');
    expect(unwindArcs.map((a) => `${a.deviceId}:${a.from}>${a.to}:${a.ok}`)).toContain('u1:STOP>STOP_COPY:false');
    expect(unwindArcs.filter((a) => a.to === 'RUNNING')).toHaveLength(2);

    // The loop closes: fit from the file, decide with it.
    const fitted = compileModel(fitModel(storedRecords(store), simTruthModel(), { name: 'from-sqlite' }));
    expect(fitted.scores.length).toBe(40);
    const d = decide(vm([mlx5('a')], { ramRemainingBytes: 0 }), fitted, { deadlineMs: 2000, alpha: 0.05, budgetMs: 60_000 });
    expect(d).toMatchObject({ action: 'commit', reason: 'FITS', calibrated: true });

    await pipeline.close();
    store.close();
  });
});
