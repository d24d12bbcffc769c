import { describe, expect, it } from 'vitest';
import { GuestRam } from '../../../src/sim/fleet/guest-ram.js';
import { GiB, MiB } from '../../../src/sim/fleet/constants.js';
import { precopyPlateauBytes } from '../../../src/estimators/precopy-plateau.js';

/** Runs 100 ms windows at `bytesPerS` until the pass count reaches `passes`; returns remaining after each sync. */
function passes(ram: GuestRam, bytesPerS: number, count: number): number[] {
  const out: number[] = [];
  let t = 0;
  while (ram.pass < count && t < 1e7) {
    t += 100;
    const before = ram.pass;
    ram.step(t, 100, bytesPerS / 10);
    if (ram.pass !== before) out.push(ram.remainingBytes);
  }
  return out;
}

describe('guest RAM in pre-copy', () => {
  it('shrinks pass by pass by about ρ = dirty / bandwidth (AVG model) while below the working set', () => {
    const ram = new GuestRam({ ramBytes: 4 * GiB, nonZeroFraction: 1, dirtyBytesPerS: 100 * MiB, wwsBytes: 4 * GiB, autoConverge: false });
    const r = passes(ram, 1000 * MiB, 4);
    // Pass 1 sends 4 GiB in ~4.1 s, during which 100 MiB/s dirties ~410 MiB; then ×~0.1 each pass
    // (whole windows make each pass a little longer than bytes / rate).
    expect(r[0]! / (4 * GiB)).toBeGreaterThan(0.09);
    expect(r[0]! / (4 * GiB)).toBeLessThan(0.12);
    expect(r[2]! / r[1]!).toBeGreaterThan(0.05);
    expect(r[2]! / r[1]!).toBeLessThan(0.35);
  });

  it('never holds more dirty pages than the writable working set', () => {
    const wws = 256 * MiB;
    const ram = new GuestRam({ ramBytes: 4 * GiB, nonZeroFraction: 1, dirtyBytesPerS: 4 * GiB, wwsBytes: wws, autoConverge: false });
    const r = passes(ram, 500 * MiB, 6);
    for (const remaining of r) expect(remaining).toBeLessThanOrEqual(wws);
    expect(ram.blackoutBytes).toBeLessThanOrEqual(2 * wws);
  });

  it("keeps QEMU's pass starts, which level off at the working set a fast-dirtying guest rewrites every pass", () => {
    const wws = 256 * MiB;
    const ram = new GuestRam({ ramBytes: 4 * GiB, nonZeroFraction: 1, dirtyBytesPerS: 4 * GiB, wwsBytes: wws, autoConverge: false });
    const r = passes(ram, 500 * MiB, 20);
    expect(ram.passStartBytes).toEqual(r.slice(-12));
    const plateau = precopyPlateauBytes(ram.passStartBytes);
    expect(plateau).toBeGreaterThan(0.9 * wws);
    expect(plateau).toBeLessThanOrEqual(wws);
    // QEMU's dirty rate counts distinct pages per period: at the plateau it reads about the
    // bandwidth, so ρ alone cannot tell a plateau from slow convergence.
    expect(ram.measuredDirtyBytesPerS / (500 * MiB)).toBeLessThan(1.1);
    const converging = new GuestRam({ ramBytes: 4 * GiB, nonZeroFraction: 1, dirtyBytesPerS: 100 * MiB, wwsBytes: 4 * GiB, autoConverge: false });
    passes(converging, 1000 * MiB, 8);
    // ρ = 0.1 shrinks to what one 100 ms window dirties (10 MiB), far below any switchover size.
    expect(precopyPlateauBytes(converging.passStartBytes)).toBeLessThanOrEqual(16 * MiB);
  });

  it('sends zero pages of the first pass without link time, so it reads a low wire rate', () => {
    const ram = new GuestRam({ ramBytes: 4 * GiB, nonZeroFraction: 0.25, dirtyBytesPerS: 0, wwsBytes: 0, autoConverge: false });
    const wire = ram.step(100, 100, 100 * MiB);
    // A zero page costs 0.1 of a normal one: pages per window = budget / (0.25 + 0.75 × 0.1).
    expect(4 * GiB - ram.remainingBytes).toBeCloseTo((100 * MiB) / 0.325, 0);
    expect(wire).toBeCloseTo(((100 * MiB) / 0.325) * 0.25, 0);
  });

  it('measures the dirty rate only at syncs at least a second apart', () => {
    const ram = new GuestRam({ ramBytes: 64 * MiB, nonZeroFraction: 1, dirtyBytesPerS: 10 * MiB, wwsBytes: GiB, autoConverge: false });
    ram.step(100, 100, 64 * MiB); // pass 1 done within 100 ms: too short a period
    expect(ram.pass).toBe(1);
    expect(ram.measuredDirtyBytesPerS).toBe(0);
    for (let t = 200; t <= 1200; t += 100) ram.step(t, 100, 64 * MiB);
    expect(ram.measuredDirtyBytesPerS).toBeCloseTo(10 * MiB, -3);
  });

  it('auto-converge throttles 20 % on the second high period, then +10 % per trigger (QEMU defaults)', () => {
    const ram = new GuestRam({ ramBytes: GiB, nonZeroFraction: 1, dirtyBytesPerS: 200 * MiB, wwsBytes: 4 * GiB, autoConverge: true });
    const seen: number[] = [];
    let t = 0;
    for (let i = 0; i < 8; i++) {
      t += 1000;
      ram.dirtySinceSyncBytes = 0;
      // A period where the guest dirtied more than half of what was sent.
      ram.step(t - 1, 1000, 100 * MiB);
      ram.sync(t);
      seen.push(ram.throttlePct);
    }
    expect(seen.slice(0, 4)).toEqual([0, 20, 20, 30]);
    expect(ram.dirtyBytesPerS).toBeCloseTo(200 * MiB * (1 - seen[7]! / 100), 6);
  });

  it('caps the dirty rate at a dirty-limit, never below 1 MB/s and never raising an earlier cap', () => {
    const ram = new GuestRam({ ramBytes: GiB, nonZeroFraction: 1, dirtyBytesPerS: 500 * MiB, wwsBytes: GiB, autoConverge: false });
    expect(ram.limitDirtyRate(100 * MiB)).toBe(100 * MiB);
    expect(ram.limitDirtyRate(300 * MiB)).toBe(100 * MiB);
    expect(ram.limitDirtyRate(0)).toBe(1e6);
    expect(ram.slowdown).toBeCloseTo(1 - 1e6 / (500 * MiB), 12);
  });
});
