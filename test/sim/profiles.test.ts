import { describe, expect, it } from 'vitest';
import { GENERIC_NIC, MLX5_CX7, QAT_VF, Rng, SIM_PROFILES, SimDevice, VirtualClock, directArcs, medianArcLatencyMs, sampleArcLatencyMs, type SimProfile } from '../../src/sim/index.js';
import { MigFlags, MigState, VALID_FLAG_SETS, arcKey } from '../../src/fsm/index.js';

const PROFILES: readonly SimProfile[] = [MLX5_CX7, QAT_VF, GENERIC_NIC];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function midSize(p: SimProfile): number {
  return Math.round((p.stateBytesMin + p.stateBytesMax) / 2);
}

describe.each(PROFILES.map((p) => [p.name, p] as const))('profile %s', (_name, profile) => {
  it('has a latency model for every direct arc of every flag subset of its flags, and no other', () => {
    const subsets = VALID_FLAG_SETS.filter((f) => (f & profile.flags) === f);
    const keys = new Set(subsets.flatMap((f) => directArcs(f).map(([from, to]) => arcKey(from, to))));
    expect(Object.keys(profile.arcs).sort()).toEqual([...keys].sort());
  });

  it('names the source of every arc model', () => {
    for (const model of Object.values(profile.arcs)) expect(model.source.length).toBeGreaterThan(10);
  });

  it('puts the median of 2,000 seeded arcs within 3 % of fixed + slope × size, for every arc', () => {
    const rng = new Rng(2024);
    const size = midSize(profile);
    for (const [key, model] of Object.entries(profile.arcs)) {
      const xs = Array.from({ length: 2000 }, () => sampleArcLatencyMs(model, profile.noise, rng, size));
      const expected = model.fixedMs + model.slopeMsPerByte * size;
      expect(Math.abs(median(xs) / expected - 1), key).toBeLessThan(0.03);
    }
  });

  it('has a heavy tail: stalls beyond twice the median occur at about tailProb × 2^-alpha', () => {
    const rng = new Rng(7);
    const size = midSize(profile);
    for (const [key, model] of Object.entries(profile.arcs)) {
      const noise = model.noise ?? profile.noise;
      const n = 20_000;
      const med = medianArcLatencyMs(model, size);
      const above = Array.from({ length: n }, () => sampleArcLatencyMs(model, profile.noise, rng, size)).filter(
        (x) => x > 2 * med,
      ).length;
      // The log-normal body alone (sigma ≤ 0.15) almost never doubles: P < 1e-5.
      const expected = n * noise.tailProb * 2 ** -noise.tailAlpha;
      expect(above, key).toBeGreaterThan(expected * 0.5);
      expect(above, key).toBeLessThan(expected * 2);
    }
  });

  it('gives 300 seeded devices state sizes inside its range', () => {
    const clock = new VirtualClock();
    const rng = new Rng(5);
    const sizes = Array.from({ length: 300 }, (_, i) => new SimDevice({ id: `d${i}`, profile, clock, rng: rng.fork() }).stateBytes);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(profile.stateBytesMin);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(profile.stateBytesMax);
    expect(sizes.every(Number.isInteger)).toBe(true);
    if (profile.stateBytesMax > profile.stateBytesMin) {
      // Uniform: both halves of the range are used.
      const mid = (profile.stateBytesMin + profile.stateBytesMax) / 2;
      expect(sizes.filter((s) => s < mid).length).toBeGreaterThan(100);
      expect(sizes.filter((s) => s >= mid).length).toBeGreaterThan(100);
    }
  });
});

describe('published figures behind the profiles', () => {
  const MB = 1_000_000;

  it('mlx5-cx7: 300 MB loaded without initial-data pre-load costs 1480 ms more (Horon 2023)', () => {
    const load = MLX5_CX7.arcs['RESUMING>STOP']!;
    const extra = medianArcLatencyMs(load, 300 * MB, 300 * MB) - medianArcLatencyMs(load, 300 * MB, 0);
    expect(extra).toBeCloseTo(1480, 6);
  });

  it('mlx5-cx7: a 300 MB blackout adds up to ≈ 420 ms with and ≈ 1900 ms without initial-data pre-load', () => {
    // The profile's stated assumptions: initial image pre-copied, 2.5 GB/s link, 80 ms vCPU/RAM.
    const a = (k: string, bytes = 0, unallocated = 0) => medianArcLatencyMs(MLX5_CX7.arcs[k]!, bytes, unallocated);
    const finalBytes = 300 * MB * MLX5_CX7.finalImageFraction;
    const common =
      a('PRE_COPY>PRE_COPY_P2P') +
      a('PRE_COPY_P2P>STOP_COPY', finalBytes) +
      finalBytes / 2.5e6 + // ms at 2.5 GB/s
      a('STOP_COPY>STOP') +
      a('STOP>RUNNING_P2P') +
      a('RUNNING_P2P>RUNNING') +
      80;
    const withAck = common + a('RESUMING>STOP', 300 * MB + finalBytes, 0);
    const withoutAck = common + a('RESUMING>STOP', 300 * MB + finalBytes, 300 * MB);
    expect(Math.abs(withAck / 420 - 1)).toBeLessThan(0.05);
    expect(Math.abs(withoutAck / 1900 - 1)).toBeLessThan(0.05);
  });

  it('mlx5-cx7: STOP_COPY>STOP is about 6 % of a 420 ms blackout (Horon 2023-07/08)', () => {
    expect(MLX5_CX7.arcs['STOP_COPY>STOP']!.fixedMs / 420).toBeCloseTo(0.06, 2);
  });

  it('mlx5-cx7: states span ~100 MiB (Szmigiero 2024) to 300 MB (Horon 2023)', () => {
    expect(MLX5_CX7.stateBytesMin).toBe(100 * 1024 * 1024);
    expect(MLX5_CX7.stateBytesMax).toBe(300 * MB);
    expect(MLX5_CX7.flags).toBe(MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY);
  });

  it('qat-vf: a 4096-byte state, flags as qat_vf_pci_init_dev() sets them', () => {
    expect([QAT_VF.stateBytesMin, QAT_VF.stateBytesMax]).toEqual([4096, 4096]);
    expect(QAT_VF.flags).toBe(MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY);
  });

  it('generic-nic: stop-copy only, so RUNNING to STOP_COPY goes through STOP', () => {
    expect(GENERIC_NIC.flags).toBe(MigFlags.STOP_COPY);
    expect(directArcs(GENERIC_NIC.flags)).toContainEqual([MigState.RUNNING, MigState.STOP]);
  });

  it('registers every built-in profile under its name', () => {
    expect(Object.keys(SIM_PROFILES).sort()).toEqual(['generic-nic', 'mlx5-cx7', 'qat-vf']);
  });
});
