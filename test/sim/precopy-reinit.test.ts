import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/estimators/predict.js';
import { MigState } from '../../src/fsm/index.js';
import { decide } from '../../src/governor/index.js';
import { probeDevices } from '../../src/governor/probe.js';
import { DevicePair } from '../../src/sim/fleet/device-pair.js';
import { VirtualClock } from '../../src/sim/clock.js';
import { mlx5, simTruthModel, vm } from '../governor/fixtures.js';
import { rig } from './helpers.js';

const { PRE_COPY, STOP_COPY } = MigState;
const MB = 1_000_000;
const exact = { biasRel: 0, noiseRel: 0 };

describe('PRE_COPY re-init (VFIO_PRECOPY_INFO_REINIT)', () => {
  const drained = async (over: Parameters<typeof rig>[0] = {}) => {
    const r = rig({ stateBytes: 200 * MB, dirtyRateBytesPerS: 4 * MB, sizeEstimate: exact, ...over });
    await r.dev.setState(PRE_COPY);
    r.dev.readData(200 * MB);
    r.clock.advance(1000); // 4 MB dirty
    return r;
  };

  it('an mlx5 device opted in to PRECOPY_INFOv2 reports it once: unread dirty bytes and the new chunk become initial bytes', async () => {
    const { dev } = await drained({ precopyInfoV2: true });
    dev.growPrecopyState(10 * MB);
    expect(await dev.precopyInfo()).toEqual({ initialBytes: 14 * MB, dirtyBytes: 0, reinit: true });
    expect(await dev.precopyInfo()).toEqual({ initialBytes: 14 * MB, dirtyBytes: 0 });
  });

  it('without the opt-in (v1), or on a driver without it, new state shows up as dirty bytes only', async () => {
    for (const over of [{}, { precopyInfoV2: true, profile: 'qat-vf' as const, stateBytes: 4096, dirtyRateBytesPerS: 0 }]) {
      const { dev } = await drained(over);
      const before = await dev.precopyInfo();
      dev.growPrecopyState(1000);
      const after = await dev.precopyInfo();
      expect(after.reinit).toBeUndefined();
      expect(after.initialBytes).toBe(before.initialBytes);
      expect(after.dirtyBytes).toBeGreaterThan(before.dirtyBytes);
    }
  });

  it('forgets a re-init not yet reported when the PRE_COPY session ends', async () => {
    const { dev } = await drained({ precopyInfoV2: true });
    dev.growPrecopyState(10 * MB);
    await dev.setState(STOP_COPY);
    await dev.setState(MigState.STOP);
    await dev.setState(MigState.RUNNING);
    await dev.setState(PRE_COPY);
    expect((await dev.precopyInfo()).reinit).toBeUndefined();
  });

  it('reaches the snapshot through the probe, and decide() then treats a received ack as stale', async () => {
    const { dev } = await drained({ precopyInfoV2: true });
    dev.growPrecopyState(10 * MB);
    const [probed] = await probeDevices([dev], 0, { sink: { push: () => undefined }, migrationId: 'm' });
    expect(probed).toMatchObject({ reinit: true, initialBytes: 14 * MB });
    const model = compileModel(simTruthModel());
    const s = vm([mlx5('a', { reinit: true })], { switchoverAck: 'received' });
    expect(decide(s, model, { deadlineMs: 1e6, alpha: 0.05, budgetMs: 60_000 }).reason).toBe('SWITCHOVER_ACK_PENDING');
    expect(decide({ ...s, devices: [mlx5('a')] }, model, { deadlineMs: 1e6, alpha: 0.05, budgetMs: 60_000 }).reason).toBe('FITS');
  });

  it('withdraws the simulated destination ack, which comes again once the new initial data is loaded', async () => {
    const clock = new VirtualClock();
    const pair = new DevicePair({ id: 'd', profile: 'mlx5-cx7', seed: 1, destSeed: 2, precopyInfoV2: true }, clock);
    await pair.src.setState(PRE_COPY);
    await pair.readPrecopy(1e12, true);
    await pair.settle();
    expect(pair.acked(true)).toBe(true);
    pair.src.growPrecopyState(10 * MB);
    await pair.readPrecopy(1, true);
    expect(pair.acked(true)).toBe(false);
    await pair.readPrecopy(1e12, true);
    await pair.settle();
    expect(pair.acked(true)).toBe(true);
  });
});
