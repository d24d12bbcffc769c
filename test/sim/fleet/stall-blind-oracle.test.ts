import { describe, expect, it } from 'vitest';
import { stallBlindFrontier } from '../../../src/app/fleet-frontier.js';
import { attemptCosts } from '../../../src/sim/fleet/attempt-costs.js';
import { runMigration } from '../../../src/sim/fleet/run-migration.js';
import type { VmSpec } from '../../../src/sim/fleet/vm-spec.js';
import { OraclePolicy } from '../../../src/sim/policies/oracle.js';
import { calmVm } from './helpers.js';

/** The first calm VM (no devices, 100 ms deadline) whose first attempt meets the VM-level stall, or that does not. */
function calmWhere(stalls: boolean): VmSpec {
  for (let i = 0; i < 2000; i++) {
    const spec = calmVm(i, { deadlineMs: 100, devices: [] });
    if (attemptCosts(spec.seed, 1, spec.ramBytes).stallMs > 0 === stalls) return spec;
  }
  throw new Error('no such VM in 2000 draws');
}

describe('the stall-blind oracle', () => {
  it('is named by what it sees and its margin, and refuses a margin that is not a number ≥ 0', () => {
    expect(new OraclePolicy().name).toBe('oracle');
    expect(new OraclePolicy({ throttle: true }).name).toBe('oracle-throttle');
    expect(new OraclePolicy({ throttle: true, stallBlind: { marginMs: 50 } }).name).toBe('oracle-stall-blind-throttle+50ms');
    expect(new OraclePolicy({ stallBlind: { marginMs: 0 } }).name).toBe('oracle-stall-blind+0ms');
    for (const marginMs of [-1, Number.NaN, Infinity]) expect(() => new OraclePolicy({ stallBlind: { marginMs } })).toThrow(RangeError);
  });

  it('misses when the attempt stalls, where the clairvoyant oracle does not', async () => {
    const spec = calmWhere(true);
    const stall = attemptCosts(spec.seed, 1, spec.ramBytes).stallMs;
    const blind = await runMigration(spec, new OraclePolicy({ stallBlind: { marginMs: 0 } }));
    expect(blind.completed).toBe(true);
    // It saw the blackout without the stall fit; the stall (≥ 100 ms) then broke the 100 ms deadline.
    expect(blind.predictedBlackoutMs!).toBeLessThanOrEqual(100);
    expect(blind.blackoutMs!).toBeCloseTo(blind.predictedBlackoutMs! + stall, 2);
    expect(blind.met).toBe(false);
    const clairvoyant = await runMigration(spec, new OraclePolicy());
    expect(clairvoyant.met).not.toBe(false);
  });

  it('does what the clairvoyant oracle does when there is no stall, and keeps its margin', async () => {
    const spec = calmWhere(false);
    const blind = await runMigration(spec, new OraclePolicy({ stallBlind: { marginMs: 0 } }));
    const clairvoyant = await runMigration(spec, new OraclePolicy());
    expect(blind.met).toBe(true);
    expect(blind.blackoutMs).toBe(clairvoyant.blackoutMs);
    expect(blind.totalTimeMs).toBe(clairvoyant.totalTimeMs);
    // A margin the first fitting poll does not leave: it waits for a smaller blackout, and gets it.
    const marginMs = 100 - blind.blackoutMs! + 10;
    const wary = await runMigration(spec, new OraclePolicy({ stallBlind: { marginMs } }));
    expect(wary.completed).toBe(true);
    expect(wary.blackoutMs!).toBeLessThanOrEqual(100 - marginMs + 1e-3);
    expect(wary.totalTimeMs).toBeGreaterThan(blind.totalTimeMs);
  });

  it('traces the frontier on a fleet seed: a wider margin misses no more and completes no more', async () => {
    const [loose, wide] = await stallBlindFrontier(3, 40, [0, 200]);
    expect(loose!.attempted).toBe(40);
    expect(wide!.missed).toBeLessThanOrEqual(loose!.missed);
    expect(wide!.met).toBeLessThanOrEqual(loose!.met + loose!.missed);
  });
});
