/**
 * The throttle lever of `watch --drive` against the scripted QEMU: dirty-limit quotas from the
 * tuner's model (QEMU's dead band, unequal vCPUs), not an even split of the advised rate.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { QmpClient } from '../../src/qemu/qmp-client.js';
import { ThrottleLever } from '../../src/app/watch/watch-throttle.js';
import { FakeQemu } from './watch-fake-qemu.js';

const MiB = 2 ** 20;
const open: Array<{ fq: FakeQemu; qmp: QmpClient }> = [];
afterEach(async () => {
  for (const { fq, qmp } of open.splice(0)) {
    await qmp.close();
    await fq.close();
  }
});

async function lever(vcpuDirtyMiBps: readonly number[]) {
  const fq = await FakeQemu.start({ remainingBytes: () => 30e6, kvmDirtyRing: true, vcpuDirtyMiBps });
  const qmp = await QmpClient.connect({ endpoint: { path: fq.path }, commandTimeoutMs: 10_000 });
  open.push({ fq, qmp });
  return { fq, lever: await ThrottleLever.arm(qmp, false) };
}

/** The VM's rate with every vCPU held at most at quota + 25 MiB/s (QEMU's DIRTYLIMIT_TOLERANCE_RANGE). */
const heldRate = (ratesMiBps: readonly number[], quotaMiBps: number): number => ratesMiBps.reduce((s, r) => s + Math.min(r, quotaMiBps + 25), 0) * MiB;
const advice = (maxMiBps: number, currentMiBps: number) => ({
  maxDirtyBytesPerS: maxMiBps * MiB,
  currentDirtyBytesPerS: currentMiBps * MiB,
  throttleFraction: 1 - maxMiBps / currentMiBps,
});

describe('the dirty-limit lever', () => {
  it("leaves room for QEMU's dead band: the VM stays at the advised rate even at quota + 25 MiB/s", async () => {
    const { fq, lever: l } = await lever([78, 78]);
    const step = await l.apply(advice(100, 156), 0);
    // Two vCPUs of 78 MiB/s each: 2 × (quota + 25) ≤ 100, so 25, not 100 / 2 = 50.
    expect(step).toMatchObject({ mechanism: 'dirty-limit', action: 'throttle', perVcpuMiBps: 25, vcpus: 2 });
    expect(fq.dirtyLimitMiBps).toBe(25);
    expect(heldRate([78, 78], 25)).toBeLessThanOrEqual(100 * MiB);
  });

  it("water-fills over QEMU's per-vCPU rates once a limit is in service: a quiet vCPU runs free", async () => {
    const { fq, lever: l } = await lever([150, 6]);
    await l.apply(advice(100, 156), 0);
    expect(fq.dirtyLimitMiBps).toBe(25);
    // Now held at [50, 6] MiB/s; 40 MiB/s is advised. Evenly split it would be out of reach (quota 1).
    const step = await l.apply(advice(40, 56), 0);
    expect(step).toMatchObject({ mechanism: 'dirty-limit', perVcpuMiBps: 9 });
    expect(step?.why).toBeUndefined();
    expect(heldRate([50, 6], 9)).toBeLessThanOrEqual(40 * MiB);
    expect(heldRate([50, 6], 10)).toBeGreaterThan(40 * MiB);
  });

  it('never loosens a quota in service on the rates QEMU reports under it', async () => {
    const { fq, lever: l } = await lever([150, 6]);
    await l.apply(advice(100, 156), 0);
    expect(await l.apply(advice(200, 56), 0)).toBeUndefined();
    expect(fq.dirtyLimitMiBps).toBe(25);
  });

  it('says so when the advised rate is below what the dead band lets through, and uses the lowest quota', async () => {
    const { fq, lever: l } = await lever([78, 78]);
    const step = await l.apply(advice(30, 156), 0);
    expect(step).toMatchObject({ mechanism: 'dirty-limit', perVcpuMiBps: 1, why: expect.stringContaining('dead band') });
    expect(fq.dirtyLimitMiBps).toBe(1);
  });
});
