import { describe, expect, it } from 'vitest';
import { MigState } from '../../src/fsm/index.js';
import { arcMedianMs } from '../../src/governor/arc-latency.js';
import { inFlightLeft, planLane, reserveAfterArcs, shouldTurnBack } from '../../src/governor/switchover.js';
import { VirtualClock } from '../../src/sim/clock.js';
import { SimDevice } from '../../src/sim/sim-device.js';
import { MiB, simTruthModel } from './fixtures.js';

const model = simTruthModel();
const { PRE_COPY, PRE_COPY_P2P, STOP_COPY } = MigState;
const BYTES = 100 * MiB;

function lane(id: string) {
  const dev = new SimDevice({ id, profile: 'mlx5-cx7', clock: new VirtualClock(), rng: 1, initialState: PRE_COPY });
  return planLane(dev, PRE_COPY, BYTES, model);
}

const toP2p = arcMedianMs(model, 'mlx5-cx7', PRE_COPY, PRE_COPY_P2P, BYTES)!;
const toStopCopy = arcMedianMs(model, 'mlx5-cx7', PRE_COPY_P2P, STOP_COPY, BYTES)!;
const home = arcMedianMs(model, 'mlx5-cx7', PRE_COPY_P2P, PRE_COPY, BYTES)!;

describe('switchover lanes', () => {
  it('plans the kernel path with the medians left and the way home from every point', () => {
    const l = lane('a');
    expect(l.plan).toEqual([PRE_COPY_P2P, STOP_COPY]);
    expect(l.suffixMs).toEqual([toP2p + toStopCopy, toStopCopy, 0]);
    // Home from PRE_COPY: nothing; from PRE_COPY_P2P: back to PRE_COPY; from STOP_COPY: via STOP to RUNNING.
    expect(l.backMs[0]).toBe(0);
    expect(l.backMs[1]).toBe(home);
    expect(l.backMs[2]).toBeGreaterThan(home);
  });

  it('reserves the decision median beyond the arcs, in parallel and in series', () => {
    const lanes = [lane('a'), lane('b')];
    expect(reserveAfterArcs(500, lanes, false)).toBeCloseTo(500 - (toP2p + toStopCopy), 9);
    expect(reserveAfterArcs(500, lanes, true)).toBeCloseTo(500 - 2 * (toP2p + toStopCopy), 9);
  });

  it('expects an arc past its median to overrun again by as much (heavy tails)', () => {
    expect(inFlightLeft(10, 4)).toBe(6);
    expect(inFlightLeft(10, 10)).toBe(0);
    expect(inFlightLeft(10, 30)).toBe(20);
  });

  it('turns a device back before STOP_COPY while another is stuck in its arc, not when that one is done', () => {
    const [a, b] = [lane('a'), lane('b')];
    // b finished its first arc and is about to issue the arc into STOP_COPY at t = 200 ms;
    // a has been in its first arc (median ~10 ms) since t = 0.
    b.next = 1;
    a.next = 1;
    a.inFlightSinceMs = 0;
    const timing = { startedAtMs: 0, deadlineMs: 400, reserveMs: 100, serial: false };
    // a: ~190 ms more expected, then its STOP_COPY arc: the finish is past 400 ms; home is not.
    expect(shouldTurnBack([a, b], timing, 200)).toBe(true);
    a.inFlightSinceMs = NaN; // a's arc came back: only medians are left
    expect(shouldTurnBack([a, b], timing, 200)).toBe(false);
  });

  it('goes on when neither finishing nor going home can meet the deadline', () => {
    const a = lane('a');
    a.next = 1;
    expect(shouldTurnBack([a], { startedAtMs: 0, deadlineMs: 100, reserveMs: 0, serial: false }, 99)).toBe(false);
  });
});
