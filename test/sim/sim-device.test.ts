import { describe, expect, it } from 'vitest';
import { DeviceError } from '../../src/device/index.js';
import { MigFlags, MigState } from '../../src/fsm/index.js';
import { Rng, SimDevice, SimError, VirtualClock, type SimArcEvent } from '../../src/sim/index.js';
import { keys, median, rig } from './helpers.js';

const { STOP, RUNNING, STOP_COPY, RESUMING, PRE_COPY } = MigState;
const MB = 1_000_000;

describe('SimDevice requests', () => {
  it('steps RUNNING to STOP_COPY arc by arc along the kernel path, each arc taking its own time', async () => {
    const { clock, dev, arcs } = rig();
    await dev.setState(STOP_COPY);
    expect(dev.getState()).toBe(STOP_COPY);
    expect(keys(arcs)).toEqual(['RUNNING>RUNNING_P2P', 'RUNNING_P2P>STOP', 'STOP>STOP_COPY']);
    expect(arcs.every((a) => a.ok && a.stateAfter === a.to && a.latencyMs > 0)).toBe(true);
    expect(arcs[1]!.startedAtMs).toBeCloseTo(arcs[0]!.latencyMs, 9);
    expect(arcs[2]!.startedAtMs).toBeCloseTo(arcs[0]!.latencyMs + arcs[1]!.latencyMs, 9);
    expect(clock.nowMs).toBeCloseTo(arcs.reduce((t, a) => t + a.latencyMs, 0), 9);
  });

  it('skips the states the flags lack: a stop-copy-only NIC goes RUNNING > STOP > STOP_COPY', async () => {
    const { dev, arcs } = rig({ profile: 'generic-nic' });
    await dev.setState(STOP_COPY);
    expect(keys(arcs)).toEqual(['RUNNING>STOP', 'STOP>STOP_COPY']);
  });

  it('takes exactly fixed + slope × size per arc when noise is off', async () => {
    const { dev, arcs } = rig({ latencyNoise: false, stateBytes: 200 * MB, initialState: STOP });
    await dev.setState(STOP_COPY);
    const model = dev.arcModel(STOP, STOP_COPY)!;
    expect(arcs[0]!.stopCopyBytes).toBe(200 * MB);
    expect(arcs[0]!.latencyMs).toBeCloseTo(model.fixedMs + model.slopeMsPerByte * 200 * MB, 9);
  });

  it('does nothing, and takes no time, for a request to the current state', async () => {
    const { clock, dev, arcs } = rig();
    await dev.setState(RUNNING);
    expect([clock.nowMs, arcs.length, dev.getState()]).toEqual([0, 0, RUNNING]);
  });

  it('reports the last state reached while a request is in flight, and rejects a second request with EBUSY', async () => {
    const { dev } = rig();
    const request = dev.setState(STOP_COPY);
    expect(dev.busy).toBe(true);
    expect(dev.getState()).toBe(RUNNING);
    await expect(dev.setState(RUNNING)).rejects.toMatchObject({ code: 'EBUSY', stateAfter: RUNNING });
    await request;
    expect(dev.busy).toBe(false);
  });

  it('recovers fixed and slope of STOP>STOP_COPY from the medians of 2,000 seeded arcs at two sizes', async () => {
    const clock = new VirtualClock();
    const rng = new Rng(31);
    const medianAt = async (stateBytes: number): Promise<number> => {
      const latencies: number[] = [];
      for (let i = 0; i < 1000; i++) {
        const dev = new SimDevice({ id: `d${i}`, profile: 'mlx5-cx7', clock, rng: rng.fork(), initialState: STOP, stateBytes });
        dev.arcs$.subscribe((e) => latencies.push(e.latencyMs));
        await dev.setState(STOP_COPY);
      }
      return median(latencies);
    };
    const [small, large] = [110 * MB, 290 * MB];
    const [m1, m2] = [await medianAt(small), await medianAt(large)];
    const slope = (m2 - m1) / (large - small);
    const fixed = m1 - slope * small;
    const truth = new SimDevice({ id: 't', profile: 'mlx5-cx7', clock, rng: 0 }).arcModel(STOP, STOP_COPY)!;
    expect(Math.abs(slope / truth.slopeMsPerByte - 1)).toBeLessThan(0.04);
    expect(Math.abs(fixed / truth.fixedMs - 1)).toBeLessThan(0.08);
  });
});

describe('SimDevice determinism', () => {
  async function trace(seed: number): Promise<Array<[string, number]>> {
    const clock = new VirtualClock();
    const rng = new Rng(seed);
    const src = new SimDevice({ id: 'src', profile: 'mlx5-cx7', clock, rng: rng.fork() });
    const dst = new SimDevice({ id: 'dst', profile: 'mlx5-cx7', clock, rng: rng.fork(), role: 'destination' });
    const out: Array<[string, number]> = [];
    const record = (e: SimArcEvent): void => {
      out.push([`${e.deviceId}:${e.from}>${e.to}`, e.latencyMs]);
    };
    src.arcs$.subscribe(record);
    dst.arcs$.subscribe(record);
    await src.setState(PRE_COPY);
    dst.writeData(src.readData(1e12));
    await dst.loadInitialData();
    out.push(['size', await src.stopCopyBytes()]);
    await Promise.all([src.setState(STOP_COPY), clock.sleep(5)]);
    dst.writeData(src.readData(1e12));
    await Promise.all([src.setState(STOP), dst.setState(RUNNING)]);
    out.push(['end', clock.nowMs]);
    return out;
  }

  it('replays the same trace from the same seed', async () => {
    expect(await trace(77)).toEqual(await trace(77));
  });

  it('gives a different trace from another seed', async () => {
    expect(await trace(77)).not.toEqual(await trace(78));
  });

  it('keeps arc latencies unchanged however often sizes are queried (separate streams)', async () => {
    const run = async (queries: number): Promise<number[]> => {
      const { dev, arcs } = rig({ rng: 5 });
      for (let i = 0; i < queries; i++) await dev.stopCopyBytes();
      await dev.setState(STOP_COPY);
      return arcs.map((a) => a.latencyMs);
    };
    expect(await run(0)).toEqual(await run(25));
  });
});

describe('SimDevice on a shared clock', () => {
  it('ends a parallel step at the slowest device and a serial one at the sum', async () => {
    const clock = new VirtualClock();
    const rng = new Rng(3);
    const make = (): SimDevice[] =>
      ['a', 'b', 'c'].map((id) => new SimDevice({ id, profile: 'mlx5-cx7', clock, rng: rng.fork(), initialState: STOP }));
    const took = async (devs: SimDevice[], parallel: boolean): Promise<{ wall: number; each: number[] }> => {
      const start = clock.nowMs;
      const each: number[] = [];
      const one = async (d: SimDevice): Promise<void> => {
        const t0 = clock.nowMs;
        await d.setState(STOP_COPY);
        each.push(clock.nowMs - t0);
      };
      if (parallel) await Promise.all(devs.map(one));
      else for (const d of devs) await one(d);
      return { wall: clock.nowMs - start, each };
    };
    const par = await took(make(), true);
    expect(par.wall).toBeCloseTo(Math.max(...par.each), 9);
    const ser = await took(make(), false);
    expect(ser.wall).toBeCloseTo(ser.each.reduce((a, b) => a + b), 9);
    expect(par.wall).toBeLessThan(ser.wall);
  });
});

describe('SimDevice sizes', () => {
  it('answers MIG_DATA_SIZE within ±noiseRel of the truth, unbiased over 2,000 queries', async () => {
    const { dev } = rig({ sizeEstimate: { biasRel: 0, noiseRel: 0.1 }, stateBytes: 100 * MB });
    const xs = await Promise.all(Array.from({ length: 2000 }, () => dev.stopCopyBytes()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(90 * MB);
    expect(Math.max(...xs)).toBeLessThanOrEqual(110 * MB);
    expect(xs.reduce((a, b) => a + b) / xs.length / (100 * MB)).toBeCloseTo(1, 2);
  });

  it('applies a configured bias to every answer', async () => {
    const { dev } = rig({ sizeEstimate: { biasRel: -0.2, noiseRel: 0 }, stateBytes: 100 * MB });
    expect(await dev.stopCopyBytes()).toBe(80 * MB);
  });
});

describe('SimDevice configuration', () => {
  const clock = new VirtualClock();

  it.each([
    ['an unknown profile', { profile: 'nope' as 'qat-vf' }],
    ['flags without STOP_COPY', { flags: MigFlags.P2P }],
    ['flags the profile has no arcs for', { profile: 'generic-nic' as const, flags: MigFlags.STOP_COPY | MigFlags.P2P }],
    ['a start state its flags lack', { profile: 'generic-nic' as const, initialState: PRE_COPY }],
    ['a negative state size', { stateBytes: -1 }],
  ])('rejects %s with E_SIM_CONFIG', (_what, extra) => {
    expect(() => new SimDevice({ id: 'x', profile: 'mlx5-cx7', clock, rng: 1, ...extra })).toThrow(
      expect.objectContaining({ code: 'E_SIM_CONFIG' }),
    );
  });

  it('starts a destination in RESUMING and a source in RUNNING', () => {
    expect(new SimDevice({ id: 'd', profile: 'qat-vf', clock, rng: 1, role: 'destination' }).getState()).toBe(RESUMING);
    expect(new SimDevice({ id: 's', profile: 'qat-vf', clock, rng: 1 }).getState()).toBe(RUNNING);
  });

  it('throws typed errors for misuse of byte counts', () => {
    const dev = new SimDevice({ id: 'd', profile: 'qat-vf', clock, rng: 1, role: 'destination' });
    expect(() => dev.writeData(1.5)).toThrow(SimError);
    expect(() => dev.readData(10)).toThrow(DeviceError);
  });
});
