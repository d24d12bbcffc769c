import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fitModel } from '../../src/estimators/fit.js';
import { precopyTimeModel, precopyTimePoints } from '../../src/estimators/total-time.js';
import { qmpEvalInput } from '../../src/qemu/qmp-eval.js';
import type { TelemetryRecord } from '../../src/records/records.js';
import { collectStore } from '../../src/store/store-records.js';
import { Store } from '../../src/store/store.js';
import { datasetRunFiles, HAVE_DATASET } from '../helpers/dataset.js';
import { pipelineItems, tempDb } from '../store/fixtures.js';

const MB = 1e6;

/** A QEMU-switched migration: polls every 200 ms, a pass a second, ending after `precopyMs`. */
function migration(id: string, precopyMs: number, policy = 'qemu'): TelemetryRecord[] {
  const records: TelemetryRecord[] = [];
  for (let t = 0, pass = 1; t < precopyMs; t += 200, pass += t % 1000 === 0 ? 1 : 0) {
    records.push({ kind: 'ram', migrationId: id, atMs: 1_700_000_000_000 + t, pass, remainingBytes: Math.round(500 * MB * (1 - t / precopyMs) + MB), dirtyBytesPerS: t === 0 ? 0 : 20 * MB, bandwidthBytesPerS: 100 * MB });
  }
  records.push(
    { kind: 'transfer', migrationId: id, deviceId: 'ram', phase: 'precopy', bytes: 600 * MB, durationMs: precopyMs },
    { kind: 'transfer', migrationId: id, deviceId: 'ram', phase: 'stopcopy', bytes: 20 * MB, durationMs: 15 },
    { kind: 'outcome', migrationId: id, policy, deadlineMs: 300, decidedAtMs: 1_700_000_000_000 + precopyMs, predictedBlackoutMs: 300, actualBlackoutMs: 15, met: true },
  );
  return records;
}

const runs = (n: number): TelemetryRecord[] => Array.from({ length: n }, (_, i) => migration(`m${i}`, 4000 + 250 * i)).flat();

describe('fit learns the pre-copy time model', () => {
  it('scores every pre-copy poll of the migrations QEMU switched over, as the evaluation does', () => {
    const records = runs(12);
    const m = fitModel(records, undefined);
    const expected = precopyTimeModel(Array.from({ length: 12 }, (_, i) => precopyTimePoints(`m${i}`, migration(`m${i}`, 4000 + 250 * i))).flat());
    expect(m.precopyTime?.logRatioScores).toEqual(expected.logRatioScores);
    expect(m.precopyTime?.provenance).toMatch(/of 12 QEMU-switched migrations; 10-fold cross-validated at α = 0\.1: bound covers [\d.]+ %/);
  });

  it('learns nothing from migrations another policy switched over', () => {
    const records = Array.from({ length: 5 }, (_, i) => migration(`g${i}`, 5000, 'governor')).flat();
    expect(fitModel(records, undefined).precopyTime).toBeUndefined();
  });

  describe('from a real SQLite store', () => {
    let tmp: ReturnType<typeof tempDb>;
    beforeEach(() => {
      tmp = tempDb();
    });
    afterEach(() => tmp.cleanup());

    it('reads every RAM poll and the pre-copy transfer of a QEMU-switched migration back, and fits the same scores', () => {
      const records = runs(6);
      const store = Store.open(tmp.db);
      try {
        store.writeBatch(pipelineItems(records));
        const fromStore = fitModel(collectStore(store), undefined);
        expect(fromStore.precopyTime?.n).toBeGreaterThan(0);
        expect(fromStore.precopyTime?.logRatioScores).toEqual(fitModel(records, undefined).precopyTime?.logRatioScores);
      } finally {
        store.close();
      }
    });
  });
});

describe.skipIf(!HAVE_DATASET)('fit on the shared QEMU dataset', () => {
  it('learns the pre-copy time of its 40 pre-copy runs with cross-validated figures', () => {
    const input = qmpEvalInput(datasetRunFiles().map((file) => ({ file, text: readFileSync(file, 'utf8') })));
    const m = fitModel(input.cases.flatMap((c) => c.records), undefined);
    console.log(`fit on the dataset: precopyTime ${m.precopyTime?.provenance}`);
    expect(m.precopyTime?.provenance).toContain('of 40 QEMU-switched migrations');
    expect(m.precopyTime?.n).toBeGreaterThan(2000);
  });
});
