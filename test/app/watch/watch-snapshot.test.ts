import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pollFigures, qmpSnapshot, SnapshotTracker } from '../../../src/app/watch/qmp-snapshot.js';
import { compileModel } from '../../../src/estimators/predict.js';
import { buildPriors } from '../../../src/estimators/priors.js';
import { decide } from '../../../src/governor/index.js';
import { parseQmpLog } from '../../../src/qemu/qmp-log.js';
import { DATASET_DIR, HAVE_DATASET } from '../../helpers/dataset.js';
import { migrationToRecords } from '../../../src/qemu/qmp-records.js';
import type { QmpPoll, QmpRamStats } from '../../../src/qemu/qmp-types.js';

function ram(over: Partial<QmpRamStats> = {}): QmpRamStats {
  return { totalBytes: 1 << 27, transferredBytes: 5e7, remainingBytes: 16e6, dirtySyncCount: 1, dirtyPagesPerS: 0, pageSizeBytes: 4096, mbps: 1073.7, ...over };
}

function poll(totalTimeMs: number, r: Partial<QmpRamStats> | undefined, status = 'active'): QmpPoll {
  const p: QmpPoll = { atMs: 1e12 + totalTimeMs, line: 1, status, totalTimeMs, setupTimeMs: 5 };
  return r === undefined ? p : { ...p, ram: ram(r) };
}

describe('qmpSnapshot', () => {
  it('maps a poll the way the importer maps it into a ram record', () => {
    const p = poll(2500, { remainingBytes: 12_345_678, dirtyPagesPerS: 20_000, mbps: 800 });
    const [rec] = migrationToRecords({ migrationId: 'm', file: 'f', events: [], polls: [p] });
    const s = qmpSnapshot(p.ram!, p.totalTimeMs, 0);
    expect(s).toEqual({ devices: [], ramRemainingBytes: 12_345_678, ramDirtyBytesPerS: 20_000 * 4096, precopyBandwidthBytesPerS: 1e8, elapsedMs: 2500 });
    expect(rec).toMatchObject({ remainingBytes: s.ramRemainingBytes, dirtyBytesPerS: s.ramDirtyBytesPerS, bandwidthBytesPerS: s.precopyBandwidthBytesPerS });
    expect(rec).toMatchObject({ atMs: p.atMs });
    expect(pollFigures(p)).toMatchObject({ atMs: p.atMs, pass: 1, remainingBytes: 12_345_678, dirtyBytesPerS: 20_000 * 4096, bandwidthBytesPerS: 1e8 });
  });
});

describe('SnapshotTracker', () => {
  it('gives no snapshot outside active pre-copy or without statistics', () => {
    const t = new SnapshotTracker(1e12);
    expect(t.observe(poll(0, undefined, 'setup'))).toEqual({ ready: false, reason: 'NOT_PRECOPY' });
    expect(t.observe(poll(10, undefined))).toEqual({ ready: false, reason: 'NO_STATISTICS' });
    expect(t.observe(poll(5000, { dirtyPagesPerS: 100 }, 'device'))).toEqual({ ready: false, reason: 'NOT_PRECOPY' });
  });

  it('waits for a dirty rate while QEMU still reports 0 in its first period', () => {
    const t = new SnapshotTracker(1e12);
    for (const [ms, pass] of [[100, 1], [600, 2], [900, 5]] as const) {
      expect(t.observe(poll(ms, { dirtySyncCount: pass }))).toEqual({ ready: false, reason: 'DIRTY_RATE_UNMEASURED' });
    }
    expect(t.dirtyRateMeasured).toBe(false);
  });

  it('is ready as soon as QEMU reports a non-zero dirty rate', () => {
    const t = new SnapshotTracker(1e12);
    expect(t.observe(poll(300, { dirtyPagesPerS: 0 })).ready).toBe(false);
    const r = t.observe(poll(1200, { dirtyPagesPerS: 300, dirtySyncCount: 3 }));
    expect(r).toMatchObject({ ready: true, snapshot: { ramDirtyBytesPerS: 300 * 4096, elapsedMs: 1200 } });
  });

  it('takes a 0 as measured two bitmap syncs after the first 1000 ms of iterations (an idle guest)', () => {
    const t = new SnapshotTracker(1e12);
    expect(t.observe(poll(1010, { dirtySyncCount: 4 })).ready).toBe(false); // 1005 ms past setup: period over, sync 4 may predate it
    expect(t.observe(poll(1100, { dirtySyncCount: 5 })).ready).toBe(false); // sync 5 began after it, may still run
    expect(t.observe(poll(1200, { dirtySyncCount: 6 }))).toMatchObject({ ready: true, snapshot: { ramDirtyBytesPerS: 0 } });
  });

  it('counts the first period from the end of setup', () => {
    const t = new SnapshotTracker(1e12);
    const late = (ms: number, pass: number): QmpPoll => ({ ...poll(ms, { dirtySyncCount: pass }), setupTimeMs: 500 });
    expect(t.observe(late(1200, 3)).ready).toBe(false); // 700 ms of iterations
    expect(t.observe(late(1400, 9)).ready).toBe(false); // 900 ms: many syncs, all maybe inside the first period
    expect(t.observe(late(1600, 10)).ready).toBe(false); // 1100 ms: the period is over; sync 11 will publish
    expect(t.observe(late(1700, 12)).ready).toBe(true);
  });
});

describe('SnapshotTracker: QEMU passes', () => {
  it('hands decide() the remaining bytes at the first poll of each pass after the first, the last 12', () => {
    const t = new SnapshotTracker(1e12);
    const seen: (readonly number[] | undefined)[] = [];
    let ms = 1000;
    for (let pass = 1; pass <= 16; pass++) {
      for (const k of [0, 1]) {
        const r = t.observe(poll((ms += 100), { dirtySyncCount: pass, remainingBytes: pass * 1000 + k, dirtyPagesPerS: 10 }));
        if (r.ready) seen.push(r.snapshot.ramPassStartBytes);
      }
    }
    expect(seen[0]).toEqual([]);
    expect(seen[3]).toEqual([2000]);
    expect(seen.at(-1)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16].map((p) => p * 1000));
  });

  // The shared dataset's runs, polled as watch polls them: the passes of the two non-converging
  // scenarios sit on a plateau (the writable working set) above QEMU's switchover size.
  it.skipIf(!HAVE_DATASET)('lets decide() see the plateau live in the non-converging runs, and never in the converging ones', () => {
    const model = compileModel(buildPriors());
    const plateauShare = (scenario: string): number => {
      let plateau = 0;
      let decided = 0;
      for (let run = 1; run <= 10; run++) {
        const file = join(DATASET_DIR, 'raw', scenario, `mig-stats-run-${run}.json`);
        const m = parseQmpLog(readFileSync(file, 'utf8'), file).migrations[0]!;
        const t = new SnapshotTracker(m.polls[0]!.atMs);
        for (const p of m.polls) {
          const r = t.observe(p);
          if (!r.ready) continue;
          const d = decide(r.snapshot, model, { deadlineMs: 300, alpha: 0.1, budgetMs: Infinity });
          decided++;
          if (d.reason === 'NOT_CONVERGING' && d.precopyPlateauBytes !== null) plateau++;
        }
      }
      return plateau / decided;
    };
    expect(plateauShare('Precopy_Convergent')).toBe(0);
    expect(plateauShare('Precopy_Nonconvergent_16T')).toBeGreaterThan(0.6);
    expect(plateauShare('Precopy_Nonconvergent_OnlyReads_16T')).toBeGreaterThan(0.6);
  });
});
