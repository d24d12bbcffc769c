/**
 * The fleet goals of issue 17, judged over many seeds (never one): on every seed the governor's
 * useful share is ≥ 95 % of the oracle's, its misses ≤ 2 % of attempted (α = 1 % plus binomial
 * noise at 300 VMs), ≤ α pooled over the seeds, and its mean total time over the VMs both
 * complete ≤ 1.10× the oracle's. Pure: rows in, verdicts out; the bench runs the seeds.
 */
import type { FleetJobResult, PolicyName } from './fleet-job.js';
import { POLICY_NAMES } from './fleet-job.js';
import { pairedTimeRatio } from '../sim/fleet/metrics.js';

/** One policy on one seed (or pooled). */
export interface PolicySeedFigures {
  readonly attempted: number;
  /** Completed within the deadline. */
  readonly met: number;
  readonly missed: number;
  readonly usefulShare: number;
  readonly missRate: number;
  /** Mean total time ÷ the oracle's over the VMs both completed (1 for the oracle itself). */
  readonly pairedTimeRatio: number;
  /** The sums behind {@link pairedTimeRatio}, so seeds pool exactly. */
  readonly pairedTimeMs: number;
  readonly pairedOracleTimeMs: number;
}

/** Every policy on one seed. */
export interface SeedFigures {
  readonly seed: number;
  readonly policies: Readonly<Record<PolicyName, PolicySeedFigures>>;
}

/** The thresholds (issue 17). */
export interface FleetGoalTargets {
  readonly alpha: number;
  /** Governor useful share ÷ oracle's, on every seed. Default 0.95. */
  readonly minUsefulVsOracle?: number;
  /** Governor misses ÷ attempted, on every seed. Default 2 α. */
  readonly maxSeedMissRate?: number;
  /** Governor paired time ÷ oracle's, on every seed. Default 1.10. */
  readonly maxPairedTimeRatio?: number;
}

/** The verdicts and the numbers they rest on. */
export interface FleetGoals {
  readonly minUsefulVsOracle: number;
  readonly maxSeedMissRate: number;
  readonly pooledMissRate: number;
  readonly maxPairedTimeRatio: number;
  readonly usefulShareOk: boolean;
  readonly seedMissOk: boolean;
  readonly pooledMissOk: boolean;
  readonly pairedTimeOk: boolean;
  readonly allOk: boolean;
  /** One line per goal not met, naming the seed. */
  readonly failures: readonly string[];
}

/** A job's figures per policy. */
export function seedFigures(r: FleetJobResult): SeedFigures {
  const oracle = r.results.oracle;
  const policies = {} as Record<PolicyName, PolicySeedFigures>;
  for (const name of POLICY_NAMES) {
    const results = r.results[name];
    const attempted = results.length;
    const met = results.filter((x) => x.completed && x.met === true).length;
    const missed = results.filter((x) => x.completed && x.met === false).length;
    const paired = pairedTimeRatio(results, oracle);
    policies[name] = figures(attempted, met, missed, paired.sumAMs, paired.sumBMs);
  }
  return { seed: r.seed, policies };
}

function figures(attempted: number, met: number, missed: number, pairedTimeMs: number, pairedOracleTimeMs: number): PolicySeedFigures {
  return {
    attempted,
    met,
    missed,
    usefulShare: attempted === 0 ? 0 : met / attempted,
    missRate: attempted === 0 ? 0 : missed / attempted,
    pairedTimeRatio: pairedOracleTimeMs > 0 ? pairedTimeMs / pairedOracleTimeMs : Number.NaN,
    pairedTimeMs,
    pairedOracleTimeMs,
  };
}

/** Every policy pooled over the seeds (sums, then ratios). */
export function pooledFigures(rows: readonly SeedFigures[]): Readonly<Record<PolicyName, PolicySeedFigures>> {
  const out = {} as Record<PolicyName, PolicySeedFigures>;
  for (const name of POLICY_NAMES) {
    const sum = (f: (p: PolicySeedFigures) => number): number => rows.reduce((s, r) => s + f(r.policies[name]), 0);
    out[name] = figures(sum((p) => p.attempted), sum((p) => p.met), sum((p) => p.missed), sum((p) => p.pairedTimeMs), sum((p) => p.pairedOracleTimeMs));
  }
  return out;
}

/** Judges the governor against the goals over `rows` (one per seed). */
export function judgeFleetGoals(rows: readonly SeedFigures[], targets: FleetGoalTargets): FleetGoals {
  const minUseful = targets.minUsefulVsOracle ?? 0.95;
  const maxMiss = targets.maxSeedMissRate ?? 2 * targets.alpha;
  const maxTime = targets.maxPairedTimeRatio ?? 1.1;
  const failures: string[] = [];
  let minUsefulVsOracle = Infinity;
  let maxSeedMissRate = 0;
  let maxPairedTimeRatio = 0;
  for (const r of rows) {
    const g = r.policies.governor;
    const vs = g.usefulShare / r.policies.oracle.usefulShare;
    minUsefulVsOracle = Math.min(minUsefulVsOracle, vs);
    maxSeedMissRate = Math.max(maxSeedMissRate, g.missRate);
    maxPairedTimeRatio = Math.max(maxPairedTimeRatio, g.pairedTimeRatio);
    if (!(vs >= minUseful)) failures.push(`seed ${r.seed}: useful share ${pct(g.usefulShare)} is ${pct(vs)} of the oracle's (goal ≥ ${pct(minUseful)})`);
    if (!(g.missRate <= maxMiss)) failures.push(`seed ${r.seed}: miss rate ${pct(g.missRate)} (goal ≤ ${pct(maxMiss)})`);
    if (!(g.pairedTimeRatio <= maxTime)) failures.push(`seed ${r.seed}: paired time ${g.pairedTimeRatio.toFixed(2)}× the oracle's (goal ≤ ${maxTime.toFixed(2)}×)`);
  }
  const pooledMissRate = pooledFigures(rows).governor.missRate;
  if (!(pooledMissRate <= targets.alpha)) failures.push(`pooled miss rate ${pct(pooledMissRate)} (goal ≤ α = ${pct(targets.alpha)})`);
  const usefulShareOk = minUsefulVsOracle >= minUseful;
  const seedMissOk = maxSeedMissRate <= maxMiss;
  const pooledMissOk = pooledMissRate <= targets.alpha;
  const pairedTimeOk = maxPairedTimeRatio <= maxTime;
  return {
    minUsefulVsOracle,
    maxSeedMissRate,
    pooledMissRate,
    maxPairedTimeRatio,
    usefulShareOk,
    seedMissOk,
    pooledMissOk,
    pairedTimeOk,
    allOk: usefulShareOk && seedMissOk && pooledMissOk && pairedTimeOk && rows.length > 0,
    failures,
  };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}
