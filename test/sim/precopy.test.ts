import { describe, expect, it } from 'vitest';
import { MLX5_CX7 } from '../../src/sim/index.js';
import { MigState } from '../../src/fsm/index.js';
import { rig } from './helpers.js';

const { STOP, RUNNING, STOP_COPY, RESUMING, PRE_COPY, PRE_COPY_P2P } = MigState;
const MB = 1_000_000;
const exact = { biasRel: 0, noiseRel: 0 };

describe('PRE_COPY on a simulated mlx5 device', () => {
  const setup = async () => {
    const r = rig({ stateBytes: 200 * MB, dirtyRateBytesPerS: 4 * MB, sizeEstimate: exact });
    await r.dev.setState(PRE_COPY);
    return r;
  };

  it('starts with the whole initial image pending and nothing dirty', async () => {
    const { dev } = await setup();
    expect(await dev.precopyInfo()).toEqual({ initialBytes: 200 * MB * MLX5_CX7.initialFraction, dirtyBytes: 0 });
  });

  it('dirties state at the configured rate while running, saturating at the state size', async () => {
    const { clock, dev } = await setup();
    clock.advance(2500);
    expect((await dev.precopyInfo()).dirtyBytes).toBe(10 * MB);
    clock.advance(1_000_000);
    expect((await dev.precopyInfo()).dirtyBytes).toBe(200 * MB);
  });

  it('drains initial bytes first, then dirty bytes, and reads 0 at the temporary end of stream', async () => {
    const { clock, dev } = await setup();
    clock.advance(1000); // 4 MB dirty
    expect(dev.readData(150 * MB)).toBe(150 * MB);
    expect(await dev.precopyInfo()).toEqual({ initialBytes: 50 * MB, dirtyBytes: 4 * MB });
    expect(dev.readData(51 * MB)).toBe(51 * MB);
    expect(await dev.precopyInfo()).toEqual({ initialBytes: 0, dirtyBytes: 3 * MB });
    expect(dev.readData(100 * MB)).toBe(3 * MB);
    expect(dev.readData(100 * MB)).toBe(0);
  });

  it('reports MIG_DATA_SIZE as the final image plus everything pending', async () => {
    const { clock, dev } = await setup();
    const finalImage = 200 * MB * MLX5_CX7.finalImageFraction;
    expect(await dev.stopCopyBytes()).toBe(finalImage + 200 * MB);
    dev.readData(200 * MB);
    clock.advance(500);
    expect(await dev.stopCopyBytes()).toBe(finalImage + 2 * MB);
  });

  it('keeps dirtying through PRE_COPY_P2P and stops in STOP_COPY, whose stream holds what was pending', async () => {
    const { clock, dev } = await setup();
    dev.readData(200 * MB);
    await dev.setState(PRE_COPY_P2P);
    clock.advance(1000);
    const pending = await dev.stopCopyBytes();
    await dev.setState(STOP_COPY);
    expect(await dev.stopCopyBytes()).toBe(pending);
    clock.advance(10_000);
    expect(await dev.stopCopyBytes()).toBe(pending);
    expect(dev.readData(pending - 1)).toBe(pending - 1);
    expect(dev.readData(10)).toBe(1);
    expect(dev.readData(10)).toBe(0);
    expect(await dev.stopCopyBytes()).toBe(0);
  });

  it('closes the session on leaving the saving group: MIG_DATA_SIZE is the whole state again', async () => {
    const { dev } = await setup();
    await dev.setState(STOP_COPY);
    await dev.setState(STOP);
    expect(await dev.stopCopyBytes()).toBe(200 * MB);
  });

  it('restarts from a full initial image after PRE_COPY was left for RUNNING', async () => {
    const { dev } = await setup();
    dev.readData(120 * MB);
    await dev.setState(RUNNING);
    await dev.setState(PRE_COPY);
    expect((await dev.precopyInfo()).initialBytes).toBe(200 * MB);
  });

  it('follows a changed dirty rate from the moment it changes', async () => {
    const { clock, dev } = await setup();
    clock.advance(1000);
    dev.dirtyRateBytesPerS = 0;
    clock.advance(1000);
    expect((await dev.precopyInfo()).dirtyBytes).toBe(4 * MB);
  });

  it('rejects PRECOPY_INFO outside PRE_COPY states with EINVAL, and reads without a saving session', async () => {
    const { dev } = rig();
    await expect(dev.precopyInfo()).rejects.toMatchObject({ code: 'EINVAL', stateAfter: RUNNING });
    expect(() => dev.readData(1)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});

describe('a simulated destination', () => {
  const MB300 = 300 * MB;
  const dest = () => rig({ role: 'destination', stateBytes: MB300, latencyNoise: false });

  it('counts the bytes written into RESUMING as its MIG_DATA_SIZE', async () => {
    const { dev } = dest();
    dev.writeData(MB300);
    expect(dev.trueStopCopyBytes()).toBe(MB300);
  });

  it('spends 1480 ms allocating 300 MB inside RESUMING>STOP without an initial-data load (Horon 2023)', async () => {
    const { dev, arcs } = dest();
    dev.writeData(MB300);
    await dev.setState(STOP);
    const load = dev.arcModel(RESUMING, STOP)!;
    expect(arcs[0]!.latencyMs).toBeCloseTo(load.fixedMs + load.slopeMsPerByte * MB300 + 1480, 6);
  });

  it('moves the allocation before the blackout when the initial data is loaded first (switchover-ack)', async () => {
    const { clock, dev, arcs } = dest();
    dev.writeData(MB300);
    await dev.loadInitialData();
    expect(clock.nowMs).toBeCloseTo(1480, 6);
    dev.writeData(90 * MB); // the stop-copy image
    await dev.setState(STOP);
    const load = dev.arcModel(RESUMING, STOP)!;
    expect(arcs[0]!.stopCopyBytes).toBe(390 * MB);
    expect(arcs[0]!.latencyMs).toBeCloseTo(load.fixedMs + load.slopeMsPerByte * 390 * MB, 6);
    expect(arcs[0]!.latencyMs).toBeLessThan(420);
  });

  it('charges only the part of the state not covered by a partial initial-data load', async () => {
    const { dev, arcs } = dest();
    dev.writeData(100 * MB);
    await dev.loadInitialData();
    dev.writeData(200 * MB);
    await dev.setState(STOP);
    const load = dev.arcModel(RESUMING, STOP)!;
    expect(arcs[0]!.latencyMs).toBeCloseTo(load.fixedMs + load.slopeMsPerByte * MB300 + (1480 * 2) / 3, 6);
  });

  it('holds the loaded state afterwards and can be migrated on', async () => {
    const { dev } = dest();
    dev.writeData(123 * MB);
    await dev.setState(RUNNING);
    expect(dev.stateBytes).toBe(123 * MB);
    expect(dev.trueStopCopyBytes()).toBe(123 * MB);
  });

  it('accepts writes only in RESUMING', async () => {
    const { dev } = dest();
    await dev.setState(STOP);
    expect(() => dev.writeData(1)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    await expect(dev.loadInitialData()).rejects.toMatchObject({ code: 'EINVAL' });
  });
});
