import { describe, expect, it } from 'vitest';
import type { FittedModel } from '../../../src/estimators/types.js';
import type { Decision } from '../../../src/governor/types.js';
import { MiB } from '../../../src/sim/fleet/constants.js';
import { runMigration } from '../../../src/sim/fleet/run-migration.js';
import { drawVmSpec, type VmSpec } from '../../../src/sim/fleet/vm-spec.js';
import { GovernorPolicy } from '../../../src/sim/policies/governor.js';
import { OraclePolicy } from '../../../src/sim/policies/oracle.js';
import { QemuPolicy } from '../../../src/sim/policies/qemu.js';
import { calibratedSimModel } from '../../governor/fixtures.js';
import { calmVm } from './helpers.js';

interface Seen {
  readonly atMs: number;
  readonly decision: Decision;
  readonly ackPending: boolean;
}

/** Runs one VM under the governor; every poll's decision with the time and whether QEMU could switch over. */
async function run(spec: VmSpec, model: FittedModel): Promise<{ seen: Seen[]; completed: boolean; totalTimeMs: number; blackoutMs: number | null }> {
  const seen: Seen[] = [];
  const policy = new GovernorPolicy({ model, alpha: 0.05, onDecision: (w, decision) => void seen.push({ atMs: w.nowMs, decision, ackPending: !w.canSwitchover }) });
  const r = await runMigration(spec, policy);
  return { seen, completed: r.completed, totalTimeMs: r.totalTimeMs, blackoutMs: r.blackoutMs };
}

const base = calibratedSimModel();

/** A calm VM with one mlx5 VF, switchover-ack on, 2 s deadline. */
const calm = (index: number, over: Partial<VmSpec> = {}): VmSpec =>
  calmVm(index, { deadlineMs: 2000, switchoverAck: true, devices: [{ id: 'dev0', profile: 'mlx5-cx7', seed: 300 + index, destSeed: 400 + index }], ...over });

describe('the governor in the simulator', () => {
  it("holds the bound to a guest's own timeout below the deadline, and counts a blackout past it as a miss", async () => {
    const roomy = calm(2, { ramBytes: 2048 * MiB, deadlineMs: 2000, switchoverAck: false, devices: [] });
    const guarded = { ...roomy, guestTimeoutMs: 120 };
    const { seen, completed } = await run(guarded, base);
    expect(completed).toBe(true);
    expect(seen.every((s) => s.decision.bindingLimit === 'guest-timeout' && s.decision.guestTimeoutMs === 120)).toBe(true);
    const commit = seen.find((s) => s.decision.action === 'commit');
    expect(commit?.decision.predictedBlackoutMs).toBeLessThanOrEqual(120);
    expect((await run(roomy, base)).seen.every((s) => s.decision.bindingLimit === 'deadline')).toBe(true);
    // QEMU's own rule knows only its downtime-limit (the deadline): the same blackout meets the
    // deadline and misses the guest's timeout.
    const qemu = await runMigration({ ...roomy, guestTimeoutMs: 1 }, new QemuPolicy());
    const qemuFree = await runMigration(roomy, new QemuPolicy());
    expect(qemu.blackoutMs).toBe(qemuFree.blackoutMs);
    expect(qemuFree.met).toBe(true);
    expect(qemu.met).toBe(false);
    // The oracle foresees the blackout and holds it to the guest's timeout too: it never switches into a miss.
    const tight = { ...roomy, guestTimeoutMs: Math.floor((qemuFree.blackoutMs as number) / 2) };
    const oracle = await runMigration(tight, new OraclePolicy());
    expect(oracle.met).not.toBe(false);
    if (oracle.completed) expect(oracle.blackoutMs).toBeLessThanOrEqual(tight.guestTimeoutMs);
  });

  it("sees QEMU's passes level off at a working set above the switchover size, and throttles where ρ < 1 says wait", async () => {
    // Dirtying 4 GB/s over a 1 GiB working set on a 2 GB/s link: every pass starts at the working
    // set, while QEMU's dirty rate (distinct pages per ≥ 1 s period) reads about the bandwidth or less.
    const wws = 1024 * MiB;
    const { seen, completed } = await run(calm(1, { dirtyBytesPerS: 4e9, wwsBytes: wws, deadlineMs: 100, switchoverAck: false, devices: [] }), base);
    const stalled = seen.filter((s) => s.decision.precopyPlateauBytes !== null && s.decision.precopyPlateauBytes > (s.decision.targetRamBytes ?? 0));
    expect(stalled.length).toBeGreaterThan(0);
    for (const s of stalled) {
      expect(s.decision.precopyPlateauBytes).toBeLessThanOrEqual(wws);
      expect(s.decision.reason).toBe('NOT_CONVERGING');
      expect(s.decision.throttle).not.toBeNull();
    }
    // ρ alone would have waited there.
    expect(stalled.some((s) => s.decision.rho < 1)).toBe(true);
    expect(completed).toBe(true);
  });

  it('never commits while a destination has not acked its initial bytes, and says so', async () => {
    for (let i = 1; i <= 3; i++) {
      const { seen, completed } = await run(calm(i, { ramBytes: 256 * MiB }), base);
      expect(completed).toBe(true);
      for (const s of seen) if (s.ackPending) expect(s.decision.action).not.toBe('commit');
      expect(seen.some((s) => s.decision.reason === 'SWITCHOVER_ACK_PENDING')).toBe(true);
    }
  });
});

interface Scored {
  readonly projectedPrecopyMs: number;
  readonly actualPrecopyMs: number;
  readonly decision: Decision;
  readonly actualMs: number;
}

/** Every pre-copy decision (not a commit) of the completed migrations of fleet `fleet`, with what then happened. */
async function precopyDecisions(fleet: number, vms: number, model: FittedModel): Promise<Scored[]> {
  const out: Scored[] = [];
  for (let i = 0; i < vms; i++) {
    const r = await run(drawVmSpec(fleet, i), model);
    if (!r.completed || r.blackoutMs === null) continue;
    for (const s of r.seen) {
      const d = s.decision;
      if (d.action === 'commit' || Number.isNaN(d.medianTotalMs)) continue;
      const limit = Math.min(d.deadlineMs, d.guestTimeoutMs ?? Infinity);
      const actualMs = r.totalTimeMs - s.atMs;
      out.push({ projectedPrecopyMs: d.medianTotalMs - Math.min(d.medianBlackoutMs, limit), actualPrecopyMs: actualMs - r.blackoutMs, decision: d, actualMs });
    }
  }
  return out;
}

describe('the time to completion in the simulator', () => {
  it('covers about 1 − α of held-out fleets once the model learned the pre-copy error on other fleets', async () => {
    const train = await precopyDecisions(501, 24, base);
    const scores = train.filter((x) => x.projectedPrecopyMs > 0).map((x) => Math.log(Math.max(1, x.actualPrecopyMs) / x.projectedPrecopyMs)).sort((a, b) => a - b);
    const learned: FittedModel = { ...base, precopyTime: { n: scores.length, logRatioScores: scores } };
    const covered: number[] = [];
    const errs: number[] = [];
    for (let fleet = 1; fleet <= 10; fleet++) {
      const test = await precopyDecisions(fleet, 6, learned);
      if (test.length === 0) continue;
      covered.push(test.filter((x) => x.actualMs <= x.decision.predictedTotalMs).length / test.length);
      for (const x of test) errs.push(Math.abs(Math.log2(x.decision.medianTotalMs / x.actualMs)));
    }
    errs.sort((a, b) => a - b);
    const meanCoverage = covered.reduce((a, b) => a + b, 0) / covered.length;
    console.log(`sim time to completion: ${scores.length} training scores; ${covered.length} test fleets, ${errs.length} decisions; ` +
      `coverage per fleet mean ${meanCoverage.toFixed(3)}, min ${Math.min(...covered).toFixed(3)}; median |log2(median/actual)| ${errs[Math.floor(errs.length / 2)]!.toFixed(3)}`);
    expect(meanCoverage).toBeGreaterThanOrEqual(0.85);
  });
});
