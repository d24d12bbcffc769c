import { describe, expect, it } from 'vitest';
import { GiB } from '../../../src/sim/fleet/constants.js';
import { runMigration } from '../../../src/sim/fleet/run-migration.js';
import type { DeviceSpec } from '../../../src/sim/fleet/vm-spec.js';
import { GovernorPolicy, KNAPSACK_FIRST_RUNG, knapsackLadder, MIN_RISK_LEVEL } from '../../../src/sim/policies/governor.js';
import { OraclePolicy } from '../../../src/sim/policies/oracle.js';
import { calibratedSimModel, withTerms } from '../../governor/fixtures.js';
import { calmVm, vmSpec } from './helpers.js';

const mlx5 = (d: number): DeviceSpec => ({ id: `dev${d}`, profile: 'mlx5-cx7', seed: 300 + d, destSeed: 400 + d });
const qat: DeviceSpec = { id: 'dev9', profile: 'qat-vf', seed: 21, destSeed: 22 };

/** A calm VM with a QAT VF. */
const calm = (over: Parameters<typeof vmSpec>[1] = {}) => calmVm(7, { devices: [qat], ...over });

describe('the governor policy', () => {
  const model = calibratedSimModel();

  it('starts adaptive α at 2α with γ = 0.005, so any 300 attempts at α = 1 % miss at most 8 (α·T + 5)', () => {
    const policy = new GovernorPolicy({ model, alpha: 0.01 });
    expect(policy.adaptive?.current).toBeCloseTo(0.02, 12);
    expect(policy.adaptive?.gamma).toBe(0.005);
    // The adversary: every attempt that may commit misses.
    let misses = 0;
    for (let t = 0; t < 300; t++) {
      const missed = policy.adaptive?.mayCommit === true;
      if (missed) misses++;
      policy.adaptive?.observe(missed);
    }
    expect(misses).toBeLessThanOrEqual(8);
    expect(policy.adaptive?.status().missAllowance).toBeCloseTo(8, 9);
    expect(new GovernorPolicy({ model, alpha: 0.01, adaptive: { initialAlpha: 0.01 } }).adaptive?.current).toBe(0.01);
    expect(new GovernorPolicy({ model, alpha: 0.01, adaptive: { gamma: 0.01 } }).adaptive?.gamma).toBe(0.01);
  });

  it('commits a calm VM within its deadline and records why', async () => {
    const policy = new GovernorPolicy({ model, alpha: 0.01 });
    const r = await runMigration(calm(), policy);
    expect(r.completed).toBe(true);
    expect(r.met).toBe(true);
    expect(r.predictedBlackoutMs!).toBeGreaterThanOrEqual(r.blackoutMs! * 0.5);
    expect([...policy.stats.reasons.keys()]).toEqual(['commit:FITS']);
  });

  it('waits for the bound at the lower level when pre-copy reaches it, instead of committing at the first bound that fits', async () => {
    const wide = calibratedSimModel(0.6);
    const spec = calm({ deadlineMs: 300 });
    const first = await runMigration(spec, new GovernorPolicy({ model: wide, alpha: 0.05, adaptive: false, lowestLevelFirst: false }));
    const lowest = await runMigration(spec, new GovernorPolicy({ model: wide, alpha: 0.05, adaptive: false }));
    expect(first.met).toBe(true);
    expect(lowest.met).toBe(true);
    // Later, with less RAM left: a smaller blackout, at a miss level of max(α/4, 1/(n+1)) instead of α.
    expect(lowest.totalTimeMs).toBeGreaterThan(first.totalTimeMs);
    expect(lowest.blackoutMs!).toBeLessThan(first.blackoutMs! / 2);
  });

  it('aborts at once when not even an empty RAM could meet a 50 ms deadline with four mlx5 VFs', async () => {
    const policy = new GovernorPolicy({ model, alpha: 0.01 });
    const r = await runMigration(calm({ deadlineMs: 50, devices: [0, 1, 2, 3].map(mlx5) }), policy);
    expect(r.completed).toBe(false);
    expect(r.abortReason).toBe('DEADLINE_UNREACHABLE');
    expect(r.polls).toBeLessThan(5);
  });

  it('throttles a writer that outruns the link instead of waiting for a switchover that never fits', async () => {
    const policy = new GovernorPolicy({ model, alpha: 0.01 });
    const spec = calm({ workload: 'thrashing', dirtyBytesPerS: 3 * GiB, wwsBytes: 2 * GiB, precopyBytesPerS: 1e9, deadlineMs: 300 });
    const r = await runMigration(spec, policy);
    expect(r.maxSlowdown).toBeGreaterThan(0.5);
    expect(r.completed).toBe(true);
    expect(r.met).toBe(true);
  });

  it('leaves QEMU auto-converge off (it owns throttling); the others keep the VM setting', () => {
    expect(new GovernorPolicy({ model, alpha: 0.01 }).qemuAutoConverge).toBe(false);
    expect(new OraclePolicy().qemuAutoConverge).toBe(true);
  });
});

describe('the governor policy with blackout terms (the risk knapsack)', () => {
  const model = withTerms(calibratedSimModel());

  it('allocates by the knapsack when the model has terms, by adaptive α otherwise or when told', () => {
    const policy = new GovernorPolicy({ model, alpha: 0.01 });
    expect(policy.knapsack?.status()).toMatchObject({ alpha: 0.01, level: 0.02, budget: 0.01 });
    expect(policy.adaptive).toBeNull();
    expect(policy.compiled.termsBound).toBe(true);
    const aci = new GovernorPolicy({ model, alpha: 0.01, allocation: 'adaptive-alpha' });
    expect(aci.knapsack).toBeNull();
    expect(aci.adaptive?.current).toBeCloseTo(0.02, 12);
    expect(aci.compiled.termsBound).toBe(false);
    expect(() => new GovernorPolicy({ model: calibratedSimModel(), alpha: 0.01, allocation: 'knapsack' })).toThrow(
      "allocation 'knapsack' needs a model with calibration terms (a fit from migrations whose blackout transfer was timed); model 'sim-truth-calibrated' has none",
    );
  });

  it('commits a calm VM within its deadline and counts the attempt in the knapsack', async () => {
    const policy = new GovernorPolicy({ model, alpha: 0.01 });
    const r = await runMigration(calm({ deadlineMs: 1000 }), policy);
    expect(r.completed).toBe(true);
    expect(r.met).toBe(true);
    expect([...policy.stats.reasons.keys()]).toEqual(['commit:FITS']);
    expect(policy.knapsack?.status()).toMatchObject({ attempts: 1, misses: 0 });
  });

  it('charges a committed VM the level it committed at, not only its best-case risk', async () => {
    const offered: number[] = [];
    const committedAt: number[] = [];
    const policy = new GovernorPolicy({ model, alpha: 0.01, onRisk: (_w, r) => offered.push(r), onCommit: (_w, d) => committedAt.push(d.alpha) });
    const r = await runMigration(calm({ deadlineMs: 1000 }), policy);
    expect(r.completed).toBe(true);
    expect(offered).toHaveLength(1);
    expect(committedAt).toHaveLength(1);
    // Decided first at 1.2 × its risk (no lower than the smallest level): above what it was offered at.
    expect(committedAt[0]).toBeGreaterThan(offered[0] as number);
    expect(policy.knapsack?.status().charged).toBe(committedAt[0]);
  });

  it('decides a VM first at 1.2 × its best-case risk, then at the level; at the level alone when they meet', () => {
    expect(KNAPSACK_FIRST_RUNG).toBe(1.2);
    expect(knapsackLadder(0.01, 0.08)).toEqual([0.012, 0.08]);
    // Nearly safe: no lower than the smallest level decide() is asked at.
    expect(knapsackLadder(0, 0.08)).toEqual([MIN_RISK_LEVEL, 0.08]);
    // Its first rung at or past the level (a VM riskier than the level is refused there).
    expect(knapsackLadder(0.07, 0.08)).toEqual([0.08]);
    expect(knapsackLadder(0.2, 0.08)).toEqual([0.08]);
  });

  it('refuses at once a VM whose best case risks more than the level, and every VM once misses pass the allowance', async () => {
    const policy = new GovernorPolicy({ model, alpha: 0.01 });
    const r = await runMigration(calm({ deadlineMs: 50, devices: [0, 1, 2, 3].map(mlx5) }), policy);
    expect(r.completed).toBe(false);
    expect(r.abortReason).toBe('DEADLINE_UNREACHABLE');
    expect(r.polls).toBeLessThan(5);
    for (let i = 0; i < 6; i++) policy.knapsack?.observe(true);
    const spent = await runMigration(calm({ deadlineMs: 1000 }), policy);
    expect(spent.abortReason).toBe('MISS_ALLOWANCE_SPENT');
  });
});

describe('the oracle policy', () => {
  it('never misses: it switches only when the true blackout fits, else aborts at the budget', async () => {
    const oracle = new OraclePolicy();
    const fits = await runMigration(calm(), oracle);
    expect(fits.completed).toBe(true);
    expect(fits.blackoutMs!).toBeLessThanOrEqual(1000);
    expect(fits.predictedBlackoutMs! - fits.blackoutMs!).toBeGreaterThanOrEqual(0);
    expect(fits.predictedBlackoutMs! - fits.blackoutMs!).toBeLessThan(0.002);
    const never = await runMigration(calm({ deadlineMs: 50, devices: [0, 1, 2, 3].map(mlx5), ramBytes: 4 * GiB, budgetMs: 20_000 }), oracle);
    expect(never.completed).toBe(false);
    expect(never.totalTimeMs).toBeGreaterThanOrEqual(20_000);
  });
});
