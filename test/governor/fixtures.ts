/**
 * Test fixtures: a fitted model that *is* the simulator's truth (per-arc lines from the sim
 * profiles, residual quantiles from Monte Carlo draws of the profiles' own noise), an array
 * sink, and snapshot builders.
 */
import { calibrationFromScores } from '../../src/estimators/conformal.js';
import { RESIDUAL_QUANTILE_LEVELS, type ArcLatencyModel, type FittedModel } from '../../src/estimators/types.js';
import { MigFlags, MigState } from '../../src/fsm/index.js';
import type { DeviceSnapshot, VmSnapshot } from '../../src/governor/types.js';
import { sampleNoiseFactor } from '../../src/sim/latency.js';
import { GENERIC_NIC, MLX5_CX7, QAT_VF, type SimProfile } from '../../src/sim/profiles.js';
import { Rng } from '../../src/sim/rng.js';
import type { RecordSink, TelemetryRecord } from '../../src/records/records.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const ALL_FLAGS = MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY;

/** Quantiles of a sim noise model's multiplicative factor at the residual levels (Monte Carlo, seeded). */
function noiseFactorQuantiles(profile: SimProfile, key: string): number[] {
  const noise = profile.arcs[key]?.noise ?? profile.noise;
  const rng = new Rng(0x5eed);
  const n = 20_000;
  const draws = new Float64Array(n);
  for (let i = 0; i < n; i++) draws[i] = sampleNoiseFactor(noise, rng);
  draws.sort();
  return RESIDUAL_QUANTILE_LEVELS.map((p) => draws[Math.min(n - 1, Math.floor(p * n))]!);
}

/** Reference device size per profile, at which residual spreads (multiplicative in the sim) are set. */
export const REFERENCE_BYTES: Readonly<Record<string, number>> = {
  'mlx5-cx7': 200 * MiB,
  'qat-vf': 4096,
  'generic-nic': 5 * MiB,
};

function arcModels(profile: SimProfile): Record<string, ArcLatencyModel> {
  const out: Record<string, ArcLatencyModel> = {};
  const bytes = REFERENCE_BYTES[profile.name] ?? 0;
  for (const [key, arc] of Object.entries(profile.arcs)) {
    const median = arc.fixedMs + arc.slopeMsPerByte * bytes;
    const factors = noiseFactorQuantiles(profile, key);
    out[key] = {
      n: 200,
      fixedMs: arc.fixedMs,
      slopeMsPerByte: arc.slopeMsPerByte,
      residualQuantilesMs: factors.map((f) => median * (f - 1)),
      source: 'fitted',
    };
  }
  return out;
}

const cache = new Map<string, FittedModel>();

/**
 * The simulator's truth as a FittedModel: arcs of every built-in profile, a 2.5 GB/s link
 * (`default`), a 20 ms fixed cost with ±25 % spread. No calibration: bounds are the
 * conservative union-bound sums.
 */
export function simTruthModel(options: { readonly omitProfiles?: readonly string[] } = {}): FittedModel {
  const key = (options.omitProfiles ?? []).join(',');
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const arcs: Record<string, Record<string, ArcLatencyModel>> = {};
  for (const p of [MLX5_CX7, QAT_VF, GENERIC_NIC]) if (!(options.omitProfiles ?? []).includes(p.name)) arcs[p.name] = arcModels(p);
  const model: FittedModel = {
    version: 1,
    name: 'sim-truth',
    fittedAt: '2026-01-01T00:00:00.000Z',
    provenance: 'test fixture: the simulator profiles themselves',
    arcs,
    links: { default: { n: 200, medianBytesPerS: 2.5e9, lowBytesPerS: 2.2e9, source: 'fitted' } },
    fixed: { n: 200, medianMs: 20, residualQuantilesMs: [-8, -6, -4, -2, 0, 2, 4, 6, 10, 15], source: 'fitted' },
  };
  cache.set(key, model);
  return model;
}

/**
 * {@link simTruthModel} with conformal scores ln(actual / median) ~ Normal(0, `sigma`) for every
 * built-in device model: bounds are then median × e^(q), tight enough to test deadlines with.
 */
export function calibratedSimModel(sigma = 0.15): FittedModel {
  const rng = new Rng(42);
  const scores = Array.from({ length: 400 }, () => rng.normal(0, sigma));
  return { ...simTruthModel(), name: 'sim-truth-calibrated', calibration: calibrationFromScores(scores, 'split', ['mlx5-cx7', 'qat-vf', 'generic-nic']) };
}

/**
 * `model` with blackout terms (`estimators/term-risk.ts`) of 300 migrations drawn like the
 * simulator's: transfers ×LN(0.1), 1 in 10 ×1.5–3 slower; rest residuals N(0, 0.5) scales, 1 in
 * 40 a stall of 15–50 scales.
 */
export function withTerms(model: FittedModel): FittedModel {
  const rng = new Rng(43);
  const transferFactors = Array.from({ length: 300 }, () => rng.lognormal(0, 0.1) * (rng.chance(0.1) ? rng.uniform(1.5, 3) : 1)).sort((a, b) => a - b);
  const restScores = Array.from({ length: 300 }, () => rng.normal(0, 0.5) + (rng.chance(1 / 40) ? rng.uniform(15, 50) : 0)).sort((a, b) => a - b);
  return { ...model, name: `${model.name}-terms`, calibration: { ...model.calibration!, terms: { n: 300, transferFactors, restScores, restSpreadWeight: 0.3 } } };
}

/** A sink that keeps every record. */
export function arraySink(): RecordSink & { readonly records: TelemetryRecord[] } {
  const records: TelemetryRecord[] = [];
  return { records, push: (r) => void records.push(r) };
}

/** A PRE_COPY mlx5 device snapshot with its initial data drained. */
export function mlx5(id: string, over: Partial<DeviceSnapshot> = {}): DeviceSnapshot {
  return {
    id,
    model: 'mlx5-cx7',
    state: MigState.PRE_COPY,
    flags: ALL_FLAGS,
    stopCopyBytes: 100 * MiB,
    initialBytes: 0,
    dirtyBytes: 1 * MiB,
    ...over,
  };
}

/** A VM snapshot: 64 MiB of RAM left, ρ = 0.25 on a 1 GiB/s pre-copy link, 10 s into the migration. */
export function vm(devices: readonly DeviceSnapshot[], over: Partial<VmSnapshot> = {}): VmSnapshot {
  return {
    devices,
    ramRemainingBytes: 64 * MiB,
    ramDirtyBytesPerS: 256 * MiB,
    precopyBandwidthBytesPerS: 1 * GiB,
    elapsedMs: 10_000,
    ...over,
  };
}
