import { describe, expect, it } from 'vitest';
import { attemptCosts } from '../../../src/sim/fleet/attempt-costs.js';
import { runMigration } from '../../../src/sim/fleet/run-migration.js';
import { drawFleet } from '../../../src/sim/fleet/vm-spec.js';
import { SwitchAtPoll, vmSpec } from './helpers.js';

describe('the blackout an oracle foresees', () => {
  it('equals the blackout the switchover then measures, for every VM of a small fleet', async () => {
    const policy = new SwitchAtPoll(15);
    const fleet = drawFleet(5, 40);
    let compared = 0;
    for (const spec of fleet) {
      const r = await runMigration(spec, policy);
      expect(r.completed).toBe(true);
      const expected = policy.expected.get(spec.id)!;
      // Equal up to float rounding of clock arithmetic (≪ 1 µs).
      expect(Math.abs(r.blackoutMs! - expected)).toBeLessThan(1e-3);
      compared++;
    }
    expect(compared).toBe(40);
  });

  it('holds for parallel and serial device phases alike', async () => {
    const policy = new SwitchAtPoll(5);
    const devices = [0, 1, 2].map((d) => ({ id: `dev${d}`, profile: 'mlx5-cx7' as const, seed: 100 + d, destSeed: 200 + d }));
    for (const multifd of [true, false]) {
      const spec = vmSpec(1, { devices, multifd, id: `vm-mf-${String(multifd)}`, workload: 'idle', dirtyBytesPerS: 5e6 });
      const r = await runMigration(spec, policy);
      expect(Math.abs(r.blackoutMs! - policy.expected.get(spec.id)!)).toBeLessThan(1e-3);
    }
  });

  it('is the same whichever policy switches at that instant: the noise belongs to the VM, not the policy', async () => {
    const spec = vmSpec(3);
    const a = await runMigration(spec, new SwitchAtPoll(30));
    const b = await runMigration(spec, new SwitchAtPoll(30));
    expect(a.blackoutMs).toBe(b.blackoutMs);
    expect(a.totalTimeMs).toBe(b.totalTimeMs);
  });

  it('draws attempt costs from the VM seed and attempt number only', () => {
    expect(attemptCosts(42, 1, 8 * 2 ** 30)).toEqual(attemptCosts(42, 1, 8 * 2 ** 30));
    expect(attemptCosts(42, 2, 8 * 2 ** 30)).not.toEqual(attemptCosts(42, 1, 8 * 2 ** 30));
    // 0.25 ms per GiB of final sync (VEP 248's "several hundred ms" at ~1 TB).
    expect(attemptCosts(42, 1, 8 * 2 ** 30).syncMs).toBeCloseTo(2, 12);
  });
});
