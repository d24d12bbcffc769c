import { describe, expect, it } from 'vitest';
import { ALL_STATES, MigState, VALID_FLAG_SETS, planPath } from '../../src/fsm/index.js';
import { arcMedianMs } from '../../src/governor/arc-latency.js';
import { PHASE_ORDER, phasesOf } from '../../src/governor/phases.js';
import { aheadOf, pastPointOfNoReturn, phasedMs, planLane, reserveAfterArcs, shouldTurnBack, wayHome } from '../../src/governor/switchover.js';
import { VirtualClock } from '../../src/sim/clock.js';
import { SimDevice } from '../../src/sim/sim-device.js';
import { MiB, simTruthModel } from './fixtures.js';

const model = simTruthModel();
const { RUNNING, RUNNING_P2P, STOP, RESUMING, PRE_COPY, PRE_COPY_P2P, STOP_COPY } = MigState;
const BYTES = 100 * MiB;

function lane(id: string) {
  const dev = new SimDevice({ id, profile: 'mlx5-cx7', clock: new VirtualClock(), rng: 1, initialState: PRE_COPY });
  return planLane(dev, PRE_COPY, BYTES, model);
}

const toP2p = arcMedianMs(model, 'mlx5-cx7', PRE_COPY, PRE_COPY_P2P, BYTES)!;
const toStopCopy = arcMedianMs(model, 'mlx5-cx7', PRE_COPY_P2P, STOP_COPY, BYTES)!;
const home = arcMedianMs(model, 'mlx5-cx7', PRE_COPY_P2P, PRE_COPY, BYTES)!;
const timing = (deadlineMs: number, reserveMs: number) => ({ startedAtMs: 0, deadlineMs, reserveMs, serial: false, model });

describe('switchover phases', () => {
  it('gives every path the kernel plans phases in order', () => {
    for (const flags of VALID_FLAG_SETS) {
      for (const from of ALL_STATES) {
        for (const to of ALL_STATES) {
          let path: MigState[];
          try {
            path = planPath(from, to, flags);
          } catch {
            continue;
          }
          const phases = phasesOf(from, path);
          // Each arc's phase is one of its kind (no fallback to the arc before), in order.
          let at = from;
          path.forEach((next, i) => {
            if (i > 0) expect(phases[i]!).toBeGreaterThanOrEqual(phases[i - 1]!);
            expect(phasesOf(at, [next])[0], `${from}→${to} arc ${at}→${next}`).toBeLessThanOrEqual(phases[i]!);
            at = next;
          });
        }
      }
    }
  });

  it('quiesces before stopping, stops a device without P2P before the others, and starts it first', () => {
    const phase = (from: MigState, to: MigState) => PHASE_ORDER[phasesOf(from, [to])[0]!];
    expect(phasesOf(PRE_COPY, [PRE_COPY_P2P, STOP_COPY]).map((i) => PHASE_ORDER[i])).toEqual(['quiesce', 'stop']);
    expect(phasesOf(RUNNING, [RUNNING_P2P, STOP, STOP_COPY]).map((i) => PHASE_ORDER[i])).toEqual(['quiesce', 'stop', 'stopped']);
    expect(phase(RUNNING, STOP)).toBe('stop-without-p2p');
    expect(phasesOf(RESUMING, [STOP, RUNNING_P2P, RUNNING]).map((i) => PHASE_ORDER[i])).toEqual(['stopped', 'start-quiesced', 'start']);
    expect(phase(STOP, RUNNING)).toBe('start-without-p2p');
    const order = (k: string) => PHASE_ORDER.indexOf(k as (typeof PHASE_ORDER)[number]);
    expect(order('quiesce')).toBeLessThan(order('stop-without-p2p'));
    expect(order('stop-without-p2p')).toBeLessThan(order('stop'));
    expect(order('start-quiesced')).toBeLessThan(order('start-without-p2p'));
    expect(order('start-without-p2p')).toBeLessThan(order('start'));
    expect(phase(STOP_COPY, STOP)).toBe('stopped');
  });

  it('adds phase times as barriers in parallel, every arc in series', () => {
    const dev = (id: string) => new SimDevice({ id, profile: 'mlx5-cx7', clock: new VirtualClock(), rng: 1, initialState: PRE_COPY });
    const a = { ...planLane(dev('a'), PRE_COPY, BYTES, model), arcMs: [10, 50] };
    const b = { ...planLane(dev('b'), PRE_COPY, BYTES, model), arcMs: [40, 5] };
    expect(phasedMs([a, b], false, aheadOf)).toBe(40 + 50);
    expect(phasedMs([a, b], true, aheadOf)).toBe(105);
  });
});

describe('switchover lanes', () => {
  it('plans the kernel path with the median of every arc and the way home from every point', () => {
    const l = lane('a');
    expect(l.plan).toEqual([PRE_COPY_P2P, STOP_COPY]);
    expect(l.arcMs).toEqual([toP2p, toStopCopy]);
    expect(wayHome(l.device, PRE_COPY, BYTES, model)).toEqual([]);
    expect(wayHome(l.device, PRE_COPY_P2P, BYTES, model)).toEqual([PHASE_ORDER.indexOf('start'), home]);
    // From STOP_COPY: STOP, RUNNING_P2P, RUNNING, in three phases.
    const fromStopCopy = wayHome(l.device, STOP_COPY, BYTES, model).filter((_, i) => i % 2 === 0);
    expect(fromStopCopy).toEqual(['stopped', 'start-quiesced', 'start'].map((k) => PHASE_ORDER.indexOf(k as (typeof PHASE_ORDER)[number])));
  });

  it('reserves the decision median beyond the vCPU stop and the arcs, in parallel and in series', () => {
    const lanes = [lane('a'), lane('b')];
    expect(reserveAfterArcs(500, 20, lanes, false)).toBeCloseTo(500 - 20 - (toP2p + toStopCopy), 9);
    expect(reserveAfterArcs(500, 20, lanes, true)).toBeCloseTo(500 - 20 - 2 * (toP2p + toStopCopy), 9);
  });

  it('turns back before the arcs into STOP_COPY when they can no longer fit, and home still can', () => {
    const [a, b] = [lane('a'), lane('b')];
    // Both quiesced at t = 200 ms: STOP_COPY (~toStopCopy) + reserve 300 passes 400; home (~home) does not.
    for (const l of [a, b]) {
      l.next = 1;
      l.at = PRE_COPY_P2P;
    }
    expect(shouldTurnBack([a, b], timing(400, 300), 200)).toBe(true);
    expect(shouldTurnBack([a, b], timing(400, 300), 400 - home + 1)).toBe(false);
    expect(shouldTurnBack([a, b], timing(400, 0), 200)).toBe(false);
  });

  it('counts the point of no return from the first arc into STOP_COPY on any device', () => {
    const [a, b] = [lane('a'), lane('b')];
    expect(pastPointOfNoReturn([a, b])).toBe(false);
    b.arcs.push({ from: PRE_COPY_P2P, to: STOP_COPY, phase: 'forward', startedAtMs: 0, latencyMs: 1, ok: false, errno: 'EIO' });
    expect(pastPointOfNoReturn([a, b])).toBe(true);
  });

  it('goes on when neither finishing nor going home can meet the deadline', () => {
    const a = lane('a');
    a.next = 1;
    a.at = PRE_COPY_P2P;
    expect(shouldTurnBack([a], timing(100, 0), 99)).toBe(false);
  });
});
