/**
 * The P2P barrier across the devices of a VM (`include/uapi/linux/vfio.h`, RUNNING_P2P: "the
 * device must not initiate new P2P DMA"; QEMU `vfio_vmstate_change_prepare()` runs for every
 * device before any `vfio_vmstate_change()`): from a recorded trace of what every device did, no
 * device may be stopped (or on its way into or out of STOP/STOP_COPY/RESUMING) while another may
 * still be fully running (RUNNING/PRE_COPY, or on its way into or out of them).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/estimators/predict.js';
import { MigFlags, MigState } from '../../src/fsm/index.js';
import { DeadlineSetState } from '../../src/governor/index.js';
import { VirtualClock } from '../../src/sim/clock.js';
import { SimDevice, type SimArcEvent } from '../../src/sim/sim-device.js';
import { MiB, arraySink, calibratedSimModel } from './fixtures.js';

const { RUNNING, RUNNING_P2P, STOP, STOP_COPY, RESUMING, PRE_COPY, PRE_COPY_P2P } = MigState;
const compiled = compileModel(calibratedSimModel());

/** 3: may initiate P2P DMA; 2: running, P2P quiesced; 1: stopped. */
function level(s: MigState): number {
  if (s === RUNNING || s === PRE_COPY) return 3;
  if (s === RUNNING_P2P || s === PRE_COPY_P2P) return 2;
  return 1;
}

interface Span {
  readonly deviceId: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly levels: ReadonlySet<number>;
}

/** Each device's levels over time; an arc in flight holds both ends' levels. */
function spans(initial: ReadonlyMap<string, MigState>, events: readonly SimArcEvent[]): Span[] {
  const out: Span[] = [];
  for (const [id, start] of initial) {
    let at = -Infinity;
    let state = start;
    for (const e of events.filter((x) => x.deviceId === id)) {
      out.push({ deviceId: id, fromMs: at, toMs: e.startedAtMs, levels: new Set([level(state)]) });
      const end = e.startedAtMs + e.latencyMs;
      out.push({ deviceId: id, fromMs: e.startedAtMs, toMs: end, levels: new Set([level(e.from), level(e.to), level(e.stateAfter)]) });
      at = end;
      state = e.stateAfter;
    }
    out.push({ deviceId: id, fromMs: at, toMs: Infinity, levels: new Set([level(state)]) });
  }
  return out;
}

/** Every moment one device was (maybe) stopped while another was (maybe) fully running. */
function barrierViolations(initial: ReadonlyMap<string, MigState>, events: readonly SimArcEvent[]): string[] {
  const all = spans(initial, events);
  const bad: string[] = [];
  for (const a of all) {
    if (!a.levels.has(1)) continue;
    for (const b of all) {
      if (b.deviceId === a.deviceId || !b.levels.has(3)) continue;
      if (Math.max(a.fromMs, b.fromMs) < Math.min(a.toMs, b.toMs)) bad.push(`${a.deviceId} stopped while ${b.deviceId} running at ${Math.max(a.fromMs, b.fromMs).toFixed(2)} ms`);
    }
  }
  return bad;
}

type Profile = 'mlx5-cx7' | 'qat-vf' | 'generic-nic';

function rig(profiles: readonly Profile[], serial: boolean, role: 'source' | 'destination' = 'source') {
  const clock = new VirtualClock();
  const sink = arraySink();
  const events: SimArcEvent[] = [];
  const devices = profiles.map((profile, i) => {
    const d = new SimDevice({ id: `d${i}-${profile}`, profile, clock, rng: 7 + i, stateBytes: profile === 'qat-vf' ? 4096 : 100 * MiB, latencyNoise: false, role });
    d.arcs$.subscribe((e) => events.push(e));
    return d;
  });
  const vm = new DeadlineSetState(devices, { model: compiled, sink, clock, migrationId: 'b', serial });
  return { clock, sink, events, devices, vm };
}

async function drainedPrecopy(devices: readonly SimDevice[]): Promise<void> {
  for (const d of devices) {
    if ((d.flags & MigFlags.PRE_COPY) === 0) continue;
    await d.setState(PRE_COPY);
    d.readData(1 << 30);
  }
}

describe('the P2P barrier on the source', () => {
  for (const serial of [false, true]) {
    it(`stops no device while another still runs, a slow mlx5 beside a fast QAT VF (${serial ? 'serial' : 'parallel'})`, async () => {
      const { devices, vm, events, clock } = rig(['mlx5-cx7', 'qat-vf'], serial);
      await drainedPrecopy(devices);
      // The mlx5's P2P arc takes 20× its median: the QAT VF is long done with its own.
      devices[0]!.injectFault({ kind: 'overrun', arc: 'PRE_COPY>PRE_COPY_P2P', multiplier: 20 });
      events.length = 0;
      const initial = new Map(devices.map((d) => [d.id, d.getState()]));
      let vcpusStoppedAtMs = NaN;
      const onCommit = async (): Promise<void> => {
        await clock.sleep(20);
        vcpusStoppedAtMs = clock.nowMs;
      };
      const r = await vm.setState(STOP_COPY, { deadlineMs: 5_000, onCommit });
      expect(r.outcome).toBe('REACHED');
      expect(barrierViolations(initial, events)).toEqual([]);
      // do_vm_stop(): pause_all_vcpus() before vm_state_notify() steps any device.
      expect(Math.min(...events.map((e) => e.startedAtMs))).toBeGreaterThanOrEqual(vcpusStoppedAtMs);
    });
  }

  it('steps a device without P2P with the stopping phase, after every other device is quiesced', async () => {
    const { devices, vm, events } = rig(['mlx5-cx7', 'generic-nic', 'qat-vf'], false);
    await drainedPrecopy(devices);
    events.length = 0;
    const initial = new Map(devices.map((d) => [d.id, d.getState()]));
    const r = await vm.setState(STOP_COPY, { deadlineMs: 5_000 });
    expect(r.outcome).toBe('REACHED');
    expect(barrierViolations(initial, events)).toEqual([]);
    const nic = events.find((e) => e.deviceId === 'd1-generic-nic')!;
    const quiesced = events.filter((e) => e.to === PRE_COPY_P2P);
    expect(quiesced).toHaveLength(2);
    for (const q of quiesced) expect(nic.startedAtMs).toBeGreaterThanOrEqual(q.startedAtMs + q.latencyMs);
  });

  it('keeps the barrier on the way back after an arc into STOP_COPY failed', async () => {
    const { devices, vm, events } = rig(['qat-vf', 'mlx5-cx7'], false);
    await drainedPrecopy(devices);
    devices[1]!.injectFault({ kind: 'arc-fail', arc: 'PRE_COPY_P2P>STOP_COPY', errno: 'EIO', after: 'original' });
    events.length = 0;
    const initial = new Map(devices.map((d) => [d.id, d.getState()]));
    const r = await vm.setState(STOP_COPY, { deadlineMs: 5_000 });
    expect(r.committed).toBe(false);
    expect(barrierViolations(initial, events)).toEqual([]);
  });

  it('holds over random VMs of P2P devices with uneven latencies, in parallel and in series', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ profile: fc.constantFrom<Profile>('mlx5-cx7', 'qat-vf'), precopy: fc.boolean(), overrun: fc.double({ min: 1, max: 40, noNaN: true }) }), { minLength: 2, maxLength: 4 }),
        fc.boolean(),
        fc.boolean(),
        async (specs, serial, withNic) => {
          const profiles: Profile[] = specs.map((s) => s.profile);
          if (withNic) profiles.push('generic-nic');
          const { devices, vm, events } = rig(profiles, serial);
          for (const [i, s] of specs.entries()) {
            if (!s.precopy) continue;
            await devices[i]!.setState(PRE_COPY);
            devices[i]!.readData(1 << 30);
          }
          specs.forEach((s, i) => devices[i]!.injectFault({ kind: 'overrun', multiplier: s.overrun }));
          events.length = 0;
          const initial = new Map(devices.map((d) => [d.id, d.getState()]));
          await vm.setState(STOP_COPY, { deadlineMs: 1e6 });
          expect(barrierViolations(initial, events)).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('the P2P barrier on the destination', () => {
  for (const serial of [false, true]) {
    it(`loads every device, quiesces them all, then starts them, then the vCPUs (${serial ? 'serial' : 'parallel'})`, async () => {
      const { devices, vm, events, clock } = rig(['mlx5-cx7', 'qat-vf', 'generic-nic'], serial, 'destination');
      for (const d of devices) d.writeData(d.stateBytes);
      const initial = new Map(devices.map((d) => [d.id, d.getState()]));
      let vcpusResumedAtMs = NaN;
      const r = await vm.setState(RUNNING, { deadlineMs: 5_000, onResume: () => void (vcpusResumedAtMs = clock.nowMs) });
      expect(r.outcome).toBe('REACHED');
      expect(barrierViolations(initial, events)).toEqual([]);
      const p2p = events.filter((e) => e.from === RESUMING).map((e) => e.startedAtMs + e.latencyMs);
      const started = events.filter((e) => e.to === RUNNING_P2P).map((e) => e.startedAtMs);
      expect(Math.min(...started)).toBeGreaterThanOrEqual(Math.max(...p2p));
      // vm_start(): vm_prepare_start() notifies every device, then resume_all_vcpus().
      expect(vcpusResumedAtMs).toBeCloseTo(Math.max(...events.map((e) => e.startedAtMs + e.latencyMs)), 9);
      expect(devices.map((d) => d.getState())).toEqual([RUNNING, RUNNING, RUNNING]);
      expect(events.some((e) => e.to === STOP)).toBe(true);
    });
  }
});
