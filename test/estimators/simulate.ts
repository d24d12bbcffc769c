/**
 * A small, seeded generator of telemetry with known parameters, for estimator tests: arcs with
 * log-normal noise and optional heavy stalls, and whole migrations whose blackout is built
 * exactly as the predictor assumes (fixed + source arcs + bytes / rate + load + restart), so a
 * fit must recover the parameters and a calibrated bound must cover at its stated rate.
 */
import type { ArcRecord, TelemetryRecord } from '../../src/records/records.js';
import { seededUniform } from '../../src/estimators/robust.js';

export const MB = 1_000_000;

export class TestRng {
  private readonly u: () => number;
  constructor(seed: number) {
    this.u = seededUniform(seed);
  }
  uniform(a = 0, b = 1): number {
    return a + (b - a) * this.u();
  }
  normal(): number {
    const u1 = Math.max(1e-12, this.u());
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * this.u());
  }
  lognormal(sigma: number): number {
    return Math.exp(sigma * this.normal());
  }
  chance(p: number): boolean {
    return this.u() < p;
  }
}

/** A true arc: median `fixedMs + slopeMsPerByte × bytes`, noise ×LN(σ), stalls ×`stallFactor` with `stallProb`. */
export interface TrueArc {
  readonly fixedMs: number;
  readonly slopeMsPerByte: number;
  readonly sigma: number;
  readonly stallProb?: number;
  readonly stallFactor?: number;
}

export function sampleArcMs(rng: TestRng, arc: TrueArc, bytes: number): number {
  let f = rng.lognormal(arc.sigma);
  if (arc.stallProb !== undefined && rng.chance(arc.stallProb)) f *= arc.stallFactor ?? 25;
  return (arc.fixedMs + arc.slopeMsPerByte * bytes) * f;
}

/** `n` arc records of one (model, arc) with sizes uniform in [minBytes, maxBytes]. */
export function simulateArcs(
  rng: TestRng,
  n: number,
  truth: TrueArc,
  opts: { model?: string; from?: string; to?: string; minBytes?: number; maxBytes?: number } = {},
): ArcRecord[] {
  const out: ArcRecord[] = [];
  for (let i = 0; i < n; i++) {
    const bytes = Math.round(rng.uniform(opts.minBytes ?? 10 * MB, opts.maxBytes ?? 300 * MB));
    out.push({
      kind: 'arc',
      migrationId: `arcs-${i}`,
      deviceId: 'dev0',
      deviceModel: opts.model ?? 'sim-nic',
      from: opts.from ?? 'PRE_COPY_P2P',
      to: opts.to ?? 'STOP_COPY',
      startedAtMs: i,
      latencyMs: sampleArcMs(rng, truth, bytes),
      stopCopyBytes: bytes,
      ok: true,
    });
  }
  return out;
}

/** The truth of a simulated fleet. */
export interface FleetTruth {
  readonly deviceModel: string;
  /** Source chain from PRE_COPY (flags STOP_COPY|P2P|PRE_COPY), then the destination. */
  readonly arcs: Readonly<Record<'PRE_COPY>PRE_COPY_P2P' | 'PRE_COPY_P2P>STOP_COPY' | 'RESUMING>STOP' | 'STOP>RUNNING_P2P' | 'RUNNING_P2P>RUNNING', TrueArc>>;
  readonly fixedMs: number;
  readonly fixedSigma: number;
  readonly blackoutBytesPerS: number;
  /** Final-sync carry, ms (blackout RAM = remaining + dirty × carry × U(0.5, 1.5)). */
  readonly carryMs: number;
  readonly devicesPerVm: number;
}

export const DEFAULT_FLEET: FleetTruth = {
  deviceModel: 'mlx5-cx7',
  arcs: {
    'PRE_COPY>PRE_COPY_P2P': { fixedMs: 10, slopeMsPerByte: 0, sigma: 0.2 },
    'PRE_COPY_P2P>STOP_COPY': { fixedMs: 40, slopeMsPerByte: 0.4 / MB, sigma: 0.15, stallProb: 0.03, stallFactor: 4 },
    'RESUMING>STOP': { fixedMs: 60, slopeMsPerByte: 0.3 / MB, sigma: 0.2 },
    'STOP>RUNNING_P2P': { fixedMs: 8, slopeMsPerByte: 0, sigma: 0.2 },
    'RUNNING_P2P>RUNNING': { fixedMs: 5, slopeMsPerByte: 0, sigma: 0.2 },
  },
  fixedMs: 15,
  fixedSigma: 0.3,
  blackoutBytesPerS: 2e9,
  carryMs: 50,
  devicesPerVm: 1,
};

/**
 * Records of one migration: RAM progress up to the decision, then (devices in parallel) source
 * arcs, the transfer, destination load and restart, stop-copy transfers and the outcome.
 */
export function simulateMigration(rng: TestRng, id: string, truth: FleetTruth = DEFAULT_FLEET): TelemetryRecord[] {
  const out: TelemetryRecord[] = [];
  const decidedAtMs = 10_000;
  const remaining = Math.round(rng.uniform(10 * MB, 200 * MB));
  const dirty = rng.uniform(10 * MB, 100 * MB);
  out.push({ kind: 'ram', migrationId: id, atMs: decidedAtMs - 200, pass: 3, remainingBytes: remaining + 5 * MB, dirtyBytesPerS: dirty, bandwidthBytesPerS: 134e6 });
  out.push({ kind: 'ram', migrationId: id, atMs: decidedAtMs, pass: 4, remainingBytes: remaining, dirtyBytesPerS: dirty, bandwidthBytesPerS: 134e6 });
  const fixed = truth.fixedMs * rng.lognormal(truth.fixedSigma);
  const ramBytes = Math.round(remaining + dirty * (truth.carryMs / 1000) * rng.uniform(0.5, 1.5));
  let t = decidedAtMs + fixed / 2;
  const sizes: number[] = [];
  for (let d = 0; d < truth.devicesPerVm; d++) sizes.push(Math.round(rng.uniform(50 * MB, 300 * MB)));
  const arc = (deviceId: string, key: keyof FleetTruth['arcs'], start: number, bytes: number): number => {
    const [from, to] = key.split('>') as [string, string];
    const latencyMs = sampleArcMs(rng, truth.arcs[key], bytes);
    out.push({ kind: 'arc', migrationId: id, deviceId, deviceModel: truth.deviceModel, from, to, startedAtMs: start, latencyMs, stopCopyBytes: bytes, ok: true });
    return start + latencyMs;
  };
  // Source: devices in parallel, each its chain; the phase ends with the slowest.
  let end = t;
  sizes.forEach((b, d) => {
    const t1 = arc(`src${d}`, 'PRE_COPY>PRE_COPY_P2P', t, b);
    end = Math.max(end, arc(`src${d}`, 'PRE_COPY_P2P>STOP_COPY', t1, b));
  });
  const deviceBytes = sizes.reduce((s, b) => s + b, 0);
  const transferMs = ((ramBytes + deviceBytes) / truth.blackoutBytesPerS) * 1000;
  t = end + transferMs;
  end = t;
  sizes.forEach((b, d) => (end = Math.max(end, arc(`dst${d}`, 'RESUMING>STOP', t, b))));
  t = end;
  sizes.forEach((b, d) => {
    const t1 = arc(`dst${d}`, 'STOP>RUNNING_P2P', t, b);
    end = Math.max(end, arc(`dst${d}`, 'RUNNING_P2P>RUNNING', t1, b));
  });
  const actual = end + fixed / 2 - decidedAtMs;
  out.push({ kind: 'transfer', migrationId: id, deviceId: 'ram', phase: 'stopcopy', bytes: ramBytes, durationMs: transferMs });
  sizes.forEach((b, d) => out.push({ kind: 'transfer', migrationId: id, deviceId: `src${d}`, phase: 'stopcopy', bytes: b, durationMs: transferMs }));
  out.push({ kind: 'outcome', migrationId: id, policy: 'sim', deadlineMs: 1000, decidedAtMs, predictedBlackoutMs: 0, actualBlackoutMs: actual, met: actual <= 1000 });
  return out;
}

/** `n` migrations `${prefix}-${i}`. */
export function simulateFleet(rng: TestRng, n: number, prefix: string, truth: FleetTruth = DEFAULT_FLEET): TelemetryRecord[][] {
  return Array.from({ length: n }, (_, i) => simulateMigration(rng, `${prefix}-${i}`, truth));
}
