import { describe, expect, it } from 'vitest';
import { DeviceError } from '../../../src/device/index.js';
import { MigState, planPath, type MigFlags } from '../../../src/fsm/index.js';
import { conformanceTable, expectedAnswer, fsmConformance, type ConformanceDevice } from '../../../src/app/probe/fsm-conformance.js';

/** A device that follows planPath, except where `quirk` says otherwise. */
function fakeDevice(flags: MigFlags, quirk?: (from: MigState, to: MigState) => MigState | 'EIO' | undefined): ConformanceDevice {
  let state: MigState = MigState.RUNNING;
  return {
    id: 'fake',
    flags,
    getState: () => state,
    setState: async (to) => {
      const q = quirk?.(state, to);
      if (q === 'EIO') throw new DeviceError('EIO', 'fake', 'SET', state, 'quirk');
      if (q !== undefined) {
        state = q;
        return;
      }
      try {
        state = planPath(state, to, flags).at(-1) ?? state;
      } catch {
        throw new DeviceError('EINVAL', 'fake', 'SET', state, 'fsm');
      }
    },
    reset: async () => (state = MigState.RUNNING),
    writeData: async (b) => b.length,
  };
}

describe('fsmConformance', () => {
  it('predicts EINVAL in place for a request the FSM rejects', () => {
    expect(expectedAnswer(MigState.STOP_COPY, MigState.PRE_COPY, 7)).toEqual({ ok: false, errno: 'EINVAL', state: MigState.STOP_COPY });
    expect(expectedAnswer(MigState.RUNNING, MigState.STOP_COPY, 7)).toEqual({ ok: true, state: MigState.STOP_COPY });
  });

  it('finds every pair agreeing on a device that follows the FSM', async () => {
    const rows = await fsmConformance(fakeDevice(7), Buffer.alloc(4));
    expect(rows).toHaveLength(56);
    expect(rows.every((r) => r.agrees)).toBe(true);
  });

  it('flags a pair where the device answers differently, in the rows and the table', async () => {
    const rows = await fsmConformance(
      fakeDevice(7, (from, to) => (from === MigState.STOP && to === MigState.RUNNING ? 'EIO' : undefined)),
      Buffer.alloc(4),
    );
    const bad = rows.filter((r) => !r.agrees);
    expect(bad.map((r) => [r.from, r.target])).toEqual([[MigState.STOP, MigState.RUNNING]]);
    expect(conformanceTable(rows)).toContain('! kernel EIO (STOP), FSM RUNNING');
  });

  it('covers only the states of the flag set', async () => {
    const rows = await fsmConformance(fakeDevice(1), Buffer.alloc(4));
    expect(new Set(rows.map((r) => r.from))).toEqual(new Set([MigState.STOP, MigState.RUNNING, MigState.STOP_COPY, MigState.RESUMING]));
  });
});
