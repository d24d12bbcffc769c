import { describe, expect, it } from 'vitest';
import { BLACKOUT_LINK, GiB, MiB } from '../../../src/sim/fleet/constants.js';
import { runMigration } from '../../../src/sim/fleet/run-migration.js';
import type { DeviceSpec, VmSpec } from '../../../src/sim/fleet/vm-spec.js';
import { OraclePolicy } from '../../../src/sim/policies/oracle.js';
import { calmVm } from './helpers.js';

/**
 * Maciej Szmigiero's multifd device-state RFC (qemu-devel, 2024-04-16; published-numbers.md §7.2):
 * 4 ConnectX-7 VFs, ~400 MiB of device state, 15 GiB guest, 100 GbE, switchover-ack on:
 * downtime ~2100 ms on the main channel → ~1100 ms with device state over multifd (QEMU 10.0
 * `x-migration-multifd-transfer`). The simulator's version of that set-up, per seed.
 */
function published(seed: number, multifd: boolean): VmSpec {
  const devices: DeviceSpec[] = [0, 1, 2, 3].map((d) => ({ id: `vf${d}`, profile: 'mlx5-cx7', seed: 1000 * seed + d, destSeed: 1000 * seed + 10 + d }));
  const wire = 100e9 / 8 * 0.9;
  return calmVm(seed, {
    ramBytes: 15 * GiB,
    linkGbps: 100,
    multifd,
    link: multifd ? '100G-multifd' : '100G',
    blackoutBytesPerS: multifd ? wire : Math.min(wire, BLACKOUT_LINK.singleStreamCapBytesPerS),
    precopyBytesPerS: 5e9,
    deadlineMs: 60_000,
    switchoverAck: true,
    devices,
  });
}

describe('multifd device state in the simulator, against the published 4× ConnectX-7 figure', () => {
  // The multifd case lands near the published ~1.1 s; the main-channel case does not (the
  // simulator serialises every device arc and load, ~2× the published ~2.1 s): measured, reported,
  // not tuned away.
  it('sends four mlx5 VFs over multifd in about the published downtime, and faster than over the main channel', async () => {
    const ratios: number[] = [];
    const multifdMs: number[] = [];
    const rows: string[] = [];
    for (let seed = 1; seed <= 10; seed++) {
      const main = await runMigration(published(seed, false), new OraclePolicy());
      const multi = await runMigration(published(seed, true), new OraclePolicy());
      expect(main.completed && multi.completed).toBe(true);
      ratios.push(multi.blackoutMs! / main.blackoutMs!);
      multifdMs.push(multi.blackoutMs!);
      rows.push(`${main.blackoutMs!.toFixed(0)}→${multi.blackoutMs!.toFixed(0)}`);
    }
    ratios.sort((a, b) => a - b);
    const median = ratios[Math.floor(ratios.length / 2)]!;
    console.log(`sim 4×mlx5 100 GbE downtime main channel → multifd (ms), seeds 1–10: ${rows.join(', ')}; median ratio ${median.toFixed(2)} (published ~1100/2100 = 0.52)`);
    multifdMs.sort((a, b) => a - b);
    const multifdMedian = multifdMs[Math.floor(multifdMs.length / 2)]!;
    expect(multifdMedian).toBeGreaterThan(1100 / 2);
    expect(multifdMedian).toBeLessThan(1100 * 2);
    expect(ratios.every((r) => r < 1)).toBe(true);
  });
});
