import { describe, expect, it } from 'vitest';
import { DeviceError, type AfterFailureMode } from '../../src/device/index.js';
import { MigState } from '../../src/fsm/index.js';
import { SimError } from '../../src/sim/index.js';
import { keys, rig } from './helpers.js';

const { ERROR, STOP, RUNNING, STOP_COPY, RUNNING_P2P } = MigState;
const MB = 1_000_000;

describe('an arc that fails', () => {
  it.each([
    ['original', 'RUNNING', RUNNING],
    ['along-path', 'STOP', STOP],
    ['error', 'ERROR', ERROR],
  ] as Array<[AfterFailureMode, string, MigState]>)('in mode %s leaves the device in %s and says so', async (after, _name, expected) => {
    const { dev, arcs } = rig();
    dev.injectFault({ kind: 'arc-fail', arc: 'STOP>STOP_COPY', after });
    const err = await dev.setState(STOP_COPY).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceError);
    expect(err).toMatchObject({ code: 'EIO', stateAfter: expected, deviceId: 'dev0' });
    expect((err as DeviceError).needsReset).toBe(expected === ERROR);
    expect(dev.getState()).toBe(expected);
    expect(keys(arcs)).toEqual(['RUNNING>RUNNING_P2P', 'RUNNING_P2P>STOP', 'STOP>STOP_COPY']);
    expect(arcs.map((a) => a.ok)).toEqual([true, true, false]);
    expect(arcs[2]).toMatchObject({ errno: 'EIO', stateAfter: expected });
  });

  it('fires a one-shot fault once, on the arc it names only', async () => {
    const { dev } = rig();
    dev.injectFault({ kind: 'arc-fail', arc: 'RUNNING_P2P>STOP', errno: 'ETIMEDOUT' });
    await dev.setState(RUNNING_P2P); // RUNNING>RUNNING_P2P: not the named arc
    await expect(dev.setState(STOP)).rejects.toMatchObject({ code: 'ETIMEDOUT', stateAfter: RUNNING_P2P });
    await dev.setState(STOP);
    expect(dev.getState()).toBe(STOP);
  });

  it('restores the data session when the driver returns to the original state', async () => {
    const { dev } = rig({ stateBytes: 100 * MB, sizeEstimate: { biasRel: 0, noiseRel: 0 } });
    await dev.setState(STOP_COPY);
    dev.readData(60 * MB);
    // STOP_COPY > STOP closes the stream; the failure on the next arc must bring it back.
    dev.injectFault({ kind: 'arc-fail', arc: 'STOP>RUNNING_P2P', after: 'original' });
    await expect(dev.setState(RUNNING)).rejects.toMatchObject({ stateAfter: STOP_COPY });
    expect(await dev.stopCopyBytes()).toBe(40 * MB);
    expect(dev.readData(100 * MB)).toBe(40 * MB);
  });

  it('fails at the standing probability, splitting after-failure states by weight', async () => {
    const { dev } = rig({ faults: { arcFailProb: 1, afterFailure: { original: 1, error: 1 } }, rng: 4 });
    const seen = new Set<MigState>();
    for (let i = 0; i < 60; i++) {
      const err = (await dev.setState(STOP).catch((e: unknown) => e)) as DeviceError;
      seen.add(err.stateAfter);
      if (dev.getState() === ERROR) await dev.reset();
    }
    expect([...seen].sort()).toEqual([ERROR, RUNNING]);
  });

  it('rejects a bad fault configuration with E_SIM_CONFIG', () => {
    expect(() => rig({ faults: { arcFailProb: 1.5 } })).toThrow(SimError);
    expect(() => rig({ faults: { afterFailure: 'sideways' as AfterFailureMode } })).toThrow(SimError);
    expect(() => rig().dev.injectFault({ kind: 'overrun', arc: 'RUNNING>NOWHERE' })).toThrow(SimError);
    expect(() => rig().dev.injectFault({ kind: 'overrun', multiplier: 0.5 })).toThrow(SimError);
  });
});

describe('an arc that overruns', () => {
  it('runs the multiplier times its usual latency, once', async () => {
    const { dev, arcs } = rig({ latencyNoise: false, initialState: STOP, stateBytes: 100 * MB });
    dev.injectFault({ kind: 'overrun', arc: 'STOP>STOP_COPY', multiplier: 20 });
    await dev.setState(STOP_COPY);
    await dev.setState(STOP);
    await dev.setState(STOP_COPY);
    const model = dev.arcModel(STOP, STOP_COPY)!;
    const usual = model.fixedMs + model.slopeMsPerByte * 100 * MB;
    expect(arcs[0]).toMatchObject({ ok: true, latencyMultiplier: 20 });
    expect(arcs[0]!.latencyMs).toBeCloseTo(20 * usual, 9);
    expect(arcs[2]!.latencyMs).toBeCloseTo(usual, 9);
  });

  it('overruns every arc at the standing probability 1', async () => {
    const { dev, arcs } = rig({ latencyNoise: false, faults: { overrunProb: 1, overrunMultiplier: 3 } });
    await dev.setState(STOP);
    expect(arcs.map((a) => a.latencyMultiplier)).toEqual([3, 3]);
    expect(arcs[0]!.latencyMs).toBeCloseTo(3 * dev.arcModel(RUNNING, RUNNING_P2P)!.fixedMs, 9);
  });
});

describe('a size query that fails', () => {
  it('rejects once with the injected errno, then answers again', async () => {
    const { dev } = rig();
    dev.injectFault({ kind: 'size-query', errno: 'ENOTTY' });
    await expect(dev.stopCopyBytes()).rejects.toMatchObject({ code: 'ENOTTY', stateAfter: RUNNING });
    await expect(dev.stopCopyBytes()).resolves.toBeGreaterThan(0);
  });

  it('rejects at the standing probability with the configured errno', async () => {
    const { dev } = rig({ faults: { sizeQueryFailProb: 1, sizeQueryErrno: 'EIO' } });
    await expect(dev.stopCopyBytes()).rejects.toMatchObject({ code: 'EIO' });
  });
});

describe('a device in ERROR', () => {
  const broken = async () => {
    const r = rig();
    r.dev.injectFault({ kind: 'arc-fail', after: 'error' });
    await r.dev.setState(STOP).catch(() => undefined);
    return r;
  };

  it('rejects every SET_STATE with EINVAL, as the FSM does, and stays in ERROR', async () => {
    const { dev } = await broken();
    await expect(dev.setState(RUNNING)).rejects.toMatchObject({ code: 'EINVAL', stateAfter: ERROR });
    expect(dev.getState()).toBe(ERROR);
  });

  it('fails size queries with EIO', async () => {
    const { dev } = await broken();
    await expect(dev.stopCopyBytes()).rejects.toMatchObject({ code: 'EIO' });
  });

  it('returns to RUNNING after VFIO_DEVICE_RESET, which takes the profile reset time, and migrates again', async () => {
    const { clock, dev } = await broken();
    const t0 = clock.nowMs;
    await dev.reset();
    expect(dev.getState()).toBe(RUNNING);
    expect(clock.nowMs - t0).toBeCloseTo(dev.profile.resetMs, 9);
    await dev.setState(STOP_COPY);
    expect(dev.getState()).toBe(STOP_COPY);
  });
});
