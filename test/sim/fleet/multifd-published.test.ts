import { describe, expect, it } from 'vitest';
import { MigState } from '../../../src/fsm/index.js';
import { GiB, MiB } from '../../../src/sim/fleet/constants.js';
import type { TelemetryRecord } from '../../../src/records/records.js';
import { TelemetryRecorder } from '../../../src/sim/fleet/recorder.js';
import { runMigration } from '../../../src/sim/fleet/run-migration.js';
import type { DeviceSpec, VmSpec } from '../../../src/sim/fleet/vm-spec.js';
import type { SimArcEvent } from '../../../src/sim/sim-device.js';
import type { SimArcModel } from '../../../src/sim/latency.js';
import { MLX5_CX7, type SimProfile } from '../../../src/sim/profiles.js';
import { calmVm, SwitchAtPoll } from './helpers.js';

/**
 * Maciej Szmigiero's multifd device-state RFC (qemu-devel, 2024-04-16; published-numbers.md §7.2):
 * 4 ConnectX-7 VFs, ~400 MiB of device state, 15 GiB guest, 100 GbE, 15 multifd channels,
 * switchover-ack on: downtime ~2100 ms with the device state on the main channel → ~1100 ms with
 * it over multifd (QEMU 10.0 `x-migration-multifd-transfer`). RAM goes over the 15 channels in both.
 * Our reading: ~100 MiB per VF moves in the downtime (a 350 MB state, final image 0.3 of it).
 * An idle guest switched at 6 s, when its RAM has converged, as QEMU's rule would.
 */
/** The mlx5 profile with its per-byte save and load costs × `factor`. */
export function scaledMlx5(factor: number): SimProfile {
  const arcs: Record<string, SimArcModel> = {};
  for (const [key, arc] of Object.entries(MLX5_CX7.arcs)) arcs[key] = { ...arc, slopeMsPerByte: arc.slopeMsPerByte * factor };
  return { ...MLX5_CX7, arcs };
}

function published(seed: number, deviceStateMultifd: boolean, profile: SimProfile = RFC_VF): VmSpec {
  const devices: DeviceSpec[] = [0, 1, 2, 3].map((d) => ({ id: `vf${d}`, profile, seed: 1000 * seed + d, destSeed: 1000 * seed + 10 + d, stateBytes: 350e6 }));
  return calmVm(seed, {
    ramBytes: 15 * GiB,
    workload: 'idle',
    dirtyBytesPerS: 5 * MiB,
    linkGbps: 100,
    multifd: true,
    multifdChannels: 15,
    deviceStateMultifd,
    link: '100G-multifd',
    blackoutBytesPerS: (100e9 / 8) * 0.9,
    precopyBytesPerS: 5e9,
    deadlineMs: 60_000,
    switchoverAck: true,
    devices,
  });
}

/**
 * The RFC's VFs: the mlx5 profile (fitted to Horon 2023's one 300 MB VF) saves and loads about
 * 1.9× too fast for Szmigiero's set-up — with the profile as it is, the main channel gives
 * ≈ 1430 ms and multifd ≈ 685 ms (the ratio, 0.48, near the published 0.52). Both figures grow
 * linearly with the per-byte factor (main ≈ 1430 + 718 (f − 1) ms); f = 1.9 is read off the
 * main-channel figure alone, so the multifd figure is predicted, not fitted: ≈ 983 ms, 11 % under
 * the published ~1100. (While the simulator overlapped each main-channel load with its own stream,
 * against mlx5's load inside the `write()` that completes the image, f = 2.2 had matched both.)
 */
const RFC_VF = scaledMlx5(1.9);

const medianOf = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2;
};

describe('multifd device state in the simulator, against the published 4× ConnectX-7 figures', () => {
  it('keeps the published ratio with the default mlx5 profile: multifd about half the main channel', async () => {
    const ratios: number[] = [];
    for (let seed = 1; seed <= 10; seed++) {
      const main = await runMigration(published(seed, false, MLX5_CX7), new SwitchAtPoll(60));
      const multi = await runMigration(published(seed, true, MLX5_CX7), new SwitchAtPoll(60));
      ratios.push(multi.blackoutMs! / main.blackoutMs!);
    }
    expect(Math.abs(medianOf(ratios) / (1100 / 2100) - 1)).toBeLessThan(0.15);
  });

  it('gives about 2.1 s on the main channel and about 1.1 s over multifd (within 15 %, seeds 1–10)', async () => {
    const mainMs: number[] = [];
    const multifdMs: number[] = [];
    for (let seed = 1; seed <= 10; seed++) {
      const main = await runMigration(published(seed, false), new SwitchAtPoll(60));
      const multi = await runMigration(published(seed, true), new SwitchAtPoll(60));
      expect(main.completed && multi.completed).toBe(true);
      mainMs.push(main.blackoutMs!);
      multifdMs.push(multi.blackoutMs!);
      expect(multi.blackoutMs!).toBeLessThan(main.blackoutMs!);
    }
    const main = medianOf(mainMs);
    const multi = medianOf(multifdMs);
    console.log(`sim 4×mlx5 100 GbE downtime, seeds 1–10, median: main channel ${main.toFixed(0)} ms (published ~2100), multifd ${multi.toFixed(0)} ms (published ~1100)`);
    expect(Math.abs(main / 2100 - 1)).toBeLessThan(0.15);
    expect(Math.abs(multi / 1100 - 1)).toBeLessThan(0.15);
  });

  it('loads each device once its stream is in, and logs the load at the bytes the source streamed', async () => {
    for (const multifd of [false, true]) {
      const records: TelemetryRecord[] = [];
      const spec = published(3, multifd);
      const r = await runMigration(spec, new SwitchAtPoll(60), { recorder: new TelemetryRecorder({ push: (x) => records.push(x) }, 'm', spec.deadlineMs) });
      expect(r.completed).toBe(true);
      const loads = records.flatMap((x) => (x.kind === 'arc' && x.from === 'RESUMING' && x.to === 'STOP' ? [x] : [])).sort((a, b) => a.startedAtMs - b.startedAtMs);
      const streamed = records.flatMap((x) => (x.kind === 'transfer' && x.phase === 'stopcopy' && x.deviceId !== 'ram' ? [x.bytes] : []));
      expect(loads).toHaveLength(4);
      // Pre-copy wrote most of each image: the load is logged at the stream's bytes, not at all that was written.
      expect(loads.map((l) => l.stopCopyBytes).sort((a, b) => a - b)).toEqual([...streamed].sort((a, b) => a - b));
      if (!multifd) {
        // On the main channel the next device's stream runs between two loads (mlx5 loads an image in
        // the write() that completes it): no load starts where the previous one ended.
        for (let i = 1; i < loads.length; i++) expect(loads[i]!.startedAtMs - (loads[i - 1]!.startedAtMs + loads[i - 1]!.latencyMs)).toBeGreaterThan(1);
      }
    }
  });

  it('loads the devices in parallel over multifd and one after another on the main channel; source arcs in turn either way', async () => {
    const overlapping = (xs: readonly SimArcEvent[]): boolean =>
      xs.some((a, i) => xs.some((b, j) => i !== j && a.startedAtMs < b.startedAtMs + b.latencyMs && b.startedAtMs < a.startedAtMs + a.latencyMs));
    for (const multifd of [true, false]) {
      const arcs: SimArcEvent[] = [];
      const r = await runMigration(published(3, multifd), new SwitchAtPoll(60), { recorder: { onArc: (e: SimArcEvent) => arcs.push(e) } });
      expect(r.completed).toBe(true);
      const intoStopCopy = arcs.filter((a) => a.to === MigState.STOP_COPY && a.from === MigState.PRE_COPY_P2P);
      const loads = arcs.filter((a) => a.from === MigState.RESUMING && a.to === MigState.STOP);
      expect(intoStopCopy).toHaveLength(4);
      expect(loads).toHaveLength(4);
      expect(overlapping(intoStopCopy)).toBe(false);
      expect(overlapping(loads)).toBe(multifd);
    }
  });
});
