import { describe, expect, it } from 'vitest';
import type { RamRecord } from '../../src/records/records.js';
import { TuningError } from '../../src/tuning/errors.js';
import { fitWorkload } from '../../src/tuning/fit-workload.js';

/** Polls every 200 ms: pass 1 for 10 s, then passes 2, 3, 4, ... of 1 s each. */
function migration(id: string, opts: { bw: number; dirty: number; firstPassMs: number; secondPassBytes: number }): RamRecord[] {
  const out: RamRecord[] = [];
  for (let t = 200; t <= 20_000; t += 200) {
    const pass = t < opts.firstPassMs ? 1 : 2 + Math.floor((t - opts.firstPassMs) / 1000);
    const inPass = pass === 1 ? t : (t - opts.firstPassMs) % 1000;
    const remaining = pass === 1 ? 8e9 - t * 4e5 : pass === 2 ? opts.secondPassBytes - (opts.bw * inPass) / 1000 : 5e7;
    out.push({
      kind: 'ram',
      migrationId: id,
      atMs: t,
      pass,
      remainingBytes: remaining,
      // QEMU's first measured rate spans the long first pass and reads low.
      dirtyBytesPerS: pass === 1 ? 0 : pass === 2 ? opts.dirty / 3 : opts.dirty,
      bandwidthBytesPerS: opts.bw,
    });
  }
  return out;
}

describe('fitWorkload', () => {
  it('reads bandwidth, the short-pass dirty rate, the first pass and a saturated working set', () => {
    const w = fitWorkload([migration('a', { bw: 1e8, dirty: 9e7, firstPassMs: 10_100, secondPassBytes: 6e8 })], { ramBytes: 8e9 });
    expect(w.bandwidthBytesPerS).toBe(1e8);
    expect(w.dirtyBytesPerS).toBe(9e7);
    // The sync fell between the polls at 10.0 and 10.2 s; one poll interval before the first poll.
    expect(w.firstPassMs).toBeCloseTo(10_100, 6);
    expect(w.firstPassBytes).toBeCloseTo(1e8 * 10.1, 0);
    // Pass 2 began with ≈ 600 MB, far less than 90 MB/s × 10 s: dirtying saturated there.
    expect(w.secondPassBytes).toBeCloseTo(6e8, -6);
    expect(w.wwsBytes).toBeCloseTo(6e8, -6);
    expect(w.ramBytes).toBe(8e9);
  });

  it('leaves the working set unknown when the first pass did not saturate it', () => {
    const w = fitWorkload([migration('a', { bw: 1e8, dirty: 5e7, firstPassMs: 10_100, secondPassBytes: 5e8 })]);
    expect(w.wwsBytes).toBeUndefined();
    // Without ram.total, the largest remaining seen stands in.
    expect(w.ramBytes).toBe(8e9 - 200 * 4e5);
  });

  it('takes the median of several migrations of one workload', () => {
    const w = fitWorkload([
      migration('a', { bw: 1e8, dirty: 8e7, firstPassMs: 10_100, secondPassBytes: 6e8 }),
      migration('b', { bw: 1.2e8, dirty: 9e7, firstPassMs: 10_100, secondPassBytes: 6e8 }),
      migration('c', { bw: 1.1e8, dirty: 1e8, firstPassMs: 10_100, secondPassBytes: 6e8 }),
    ]);
    expect(w.migrations).toBe(3);
    expect(w.bandwidthBytesPerS).toBe(1.1e8);
    expect(w.dirtyBytesPerS).toBe(9e7);
  });

  it('needs a second pass to see anything', () => {
    const onlyFirst = migration('a', { bw: 1e8, dirty: 9e7, firstPassMs: 30_000, secondPassBytes: 6e8 });
    expect(() => fitWorkload([onlyFirst])).toThrow(TuningError);
    expect(() => fitWorkload([onlyFirst])).toThrow(/migration a: no poll in the first pass and the second/);
    expect(() => fitWorkload([])).toThrow(/no migrations/);
  });
});
