import { describe, expect, it } from 'vitest';
import { GiB, MiB, QEMU_FAILED_SIZE_QUERY_BYTES } from '../../../src/sim/fleet/constants.js';
import { MigrationWorld } from '../../../src/sim/fleet/migration-world.js';
import type { DeviceSpec } from '../../../src/sim/fleet/vm-spec.js';
import { KubevirtPolicy } from '../../../src/sim/policies/kubevirt.js';
import { qemuCompletionCheck } from '../../../src/sim/policies/qemu-rule.js';
import type { PolicyAction } from '../../../src/sim/policies/types.js';
import { vmSpec } from './helpers.js';

const nic: DeviceSpec = { id: 'dev0', profile: 'generic-nic', seed: 11, destSeed: 12 };
const mlx5: DeviceSpec = { id: 'dev1', profile: 'mlx5-cx7', seed: 13, destSeed: 14 };

/** A world after one poll, with `ram.remaining` set to `remainingBytes` and a 1 GB/s window. */
async function worldWith(devices: DeviceSpec[], remainingBytes: number, deadlineMs = 300): Promise<MigrationWorld> {
  const spec = vmSpec(0, { devices, deadlineMs, availSwitchoverBytesPerS: 0, ramBytes: 4 * GiB, workload: 'idle', dirtyBytesPerS: 0, wwsBytes: 0 });
  const world = await MigrationWorld.start(spec, { autoConverge: false });
  await world.poll();
  world.ram.remainingBytes = remainingBytes;
  world.ram.dirtySinceSyncBytes = 0;
  world.windowBytesPerS = 1e9;
  return world;
}

describe("QEMU's switchover rule", () => {
  it('does not see a stop-copy-only device on the estimate path, only on the exact one', async () => {
    const world = await worldWith([nic], 100 * MiB);
    const size = world.pairs[0]!.src.stateBytes;
    const check = await qemuCompletionCheck(world, 300);
    // threshold = 1 GB/s × 300 ms; the estimate is RAM alone, so the exact path runs and adds the NIC.
    expect(check.thresholdBytes).toBe(300e6);
    expect(check.exact).toBe(true);
    expect(check.pendingBytes).toBeGreaterThan(100 * MiB + 0.85 * size);
    expect(check.complete).toBe(true);
  });

  it('counts a failed MIG_DATA_SIZE as 100 GiB and so never switches', async () => {
    const world = await worldWith([nic], 1 * MiB);
    world.pairs[0]!.src.injectFault({ kind: 'size-query' });
    const check = await qemuCompletionCheck(world, 300);
    expect(check.exact).toBe(true);
    expect(check.deviceSizes).toEqual([null]);
    expect(check.pendingBytes).toBeGreaterThanOrEqual(QEMU_FAILED_SIZE_QUERY_BYTES);
    expect(check.complete).toBe(false);
  });

  it('waits for switchover-ack even when the bytes fit', async () => {
    const world = await worldWith([mlx5], 0);
    world.windowBytesPerS = 100e9; // any device size fits the threshold
    expect(world.canSwitchover).toBe(false); // the initial image is not loaded on the destination yet
    const check = await qemuCompletionCheck(world, 300);
    expect(check.exact).toBe(true);
    expect(check.pendingBytes).toBeLessThanOrEqual(check.thresholdBytes);
    expect(check.complete).toBe(false);
  });

  it('models only bytes: its expected downtime is RAM remaining ÷ bandwidth', async () => {
    const world = await worldWith([], 150e6);
    const check = await qemuCompletionCheck(world, 300);
    expect(check.expectedDowntimeMs).toBeCloseTo(150, 9);
  });
});

/**
 * A stand-in world for KubeVirt's logic: RAM remaining that stops shrinking, a pass every 5 s,
 * a 100 MB/s window. Only what the policy and QEMU's rule read.
 */
function stalledWorld(remainingBytes: number, deadlineMs: number): { world: MigrationWorld; tick: () => void } {
  const ram = { pass: 0, remainingBytes, dirtySinceSyncBytes: 0, sync(): void {} };
  const fake = {
    nowMs: 0,
    spec: { deadlineMs, budgetMs: 600_000, availSwitchoverBytesPerS: 0 },
    ram,
    pairs: [],
    windowBytesPerS: 100e6,
    canSwitchover: true,
    exactSync(): void {},
  };
  const tick = (): void => {
    fake.nowMs += 100;
    if (fake.nowMs % 5000 === 0) ram.pass++;
  };
  return { world: fake as unknown as MigrationWorld, tick };
}

async function runUntilAction(deadlineMs: number, remainingBytes: number): Promise<{ action: PolicyAction; atMs: number }> {
  const { world, tick } = stalledWorld(remainingBytes, deadlineMs);
  const run = await new KubevirtPolicy().start(world);
  for (let i = 0; i < 5000; i++) {
    tick();
    const action = await run.onPoll(world);
    if (action.kind !== 'continue') return { action, atMs: world.nowMs };
  }
  return { action: { kind: 'continue' }, atMs: world.nowMs };
}

describe('KubeVirt VEP 248', () => {
  it('aborts at a stall when the implied downtime exceeds 1.5 × maxDowntime', async () => {
    // 1 GB left at 100 MB/s: 10 s implied, deadline 300 ms.
    const { action, atMs } = await runUntilAction(300, 1e9);
    expect(action.kind).toBe('abort');
    // The first record ages out of the 40 s window at 45 s (passes every 5 s).
    expect(atMs).toBe(45_000);
  });

  it('raises the downtime limit to maxDowntime at a stall ("soft stop-and-copy"), and QEMU then switches', async () => {
    // 40 MB at 100 MB/s: 400 ms implied. QEMU's start limit is min(1000, 300) = 300 ms → 30 MB threshold.
    const { action, atMs } = await runUntilAction(1000, 40e6);
    expect(action.kind).toBe('switch');
    expect(atMs).toBe(45_000);
  });

  it('aborts 60 s after a soft stop-and-copy that QEMU never completes', async () => {
    // 40 MB, deadline 300: implied 400 ms ≤ 1.5 × 300, limit stays 300 ms → QEMU never switches.
    const { action, atMs } = await runUntilAction(300, 40e6);
    expect(action).toEqual({ kind: 'abort', reason: 'switchover timeout (60 s)' });
    expect(atMs).toBe(105_000);
  });
});
