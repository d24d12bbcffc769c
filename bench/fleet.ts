/**
 * The fleet benchmark: the main job (`vfio-sla demo`) at its default size — 300 training
 * migrations recorded and fitted, 300 held-out migrations under each policy — on fleet seeds
 * 1–10 (`BENCH_FLEET_SEEDS=1,2,3` for fewer), each on a temporary database, so `data/` is left
 * alone. A policy is judged on many seeds, never one.
 *
 * Keys, for each policy P of governor, qemu, kubevirt, oracle, oracle_throttle:
 * - `fleet_s<S>_<P>_useful_share` (completed within the deadline ÷ attempted), `_miss_rate`
 *   (missed ÷ attempted), `_paired_time_ratio` (mean total time ÷ the oracle's over the VMs both
 *   completed), per seed S; `fleet_pooled_<P>_…` the same over all seeds (sums, then ratios);
 * - the issue 17 goals, each 1 when met: `fleet_goal_useful_share_ok` (governor ≥ 95 % of the
 *   oracle's useful share on every seed; `fleet_goal_min_useful_vs_oracle` the worst seed),
 *   `fleet_goal_seed_miss_ok` (≤ 2 α on every seed; `fleet_goal_max_seed_miss_rate`),
 *   `fleet_goal_pooled_miss_ok` (≤ α pooled), `fleet_goal_paired_time_ok` (≤ 1.10× on every
 *   seed; `fleet_goal_max_paired_time_ratio`), `fleet_goals_ok` all of them. The goals not met
 *   are named on stderr; `BENCH_FLEET_STRICT=1` makes them fail the benchmark.
 * - the frontier (`app/fleet-frontier.ts`): the stall-blind throttling oracle — every draw
 *   foreseen but the VM-level stall — at margins M of 0, 50 and 100 ms:
 *   `fleet_s<S>_stall_blind_<M>ms_useful_vs_oracle` (its useful share ÷ the oracle's) and
 *   `_miss_rate`, the same pooled (`fleet_pooled_stall_blind_<M>ms_…`) and the worst seed
 *   (`fleet_stall_blind_<M>ms_min_useful_vs_oracle`). A margin rule is not the best a policy
 *   blind to the stall can do: the law-aware frontier (`bench/law-frontier.ts`, on demand) is.
 * - seed 1 under the earlier names (issue 7): `fleet_miss_rate_<P>`,
 *   `fleet_time_ratio_governor_vs_oracle[_paired]`, `fleet_aborted_share_governor|oracle`,
 *   `fleet_runtime_ms` (per seed, mean).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgeFleetGoals, pooledFigures, seedFigures, type PolicySeedFigures, type SeedFigures } from '../src/app/fleet-goals.js';
import { stallBlindFrontier } from '../src/app/fleet-frontier.js';
import { POLICY_NAMES, runFleetJob, type FleetJobResult } from '../src/app/fleet-job.js';

const ALPHA = 0.01;
const round = (x: number): number => Math.round(x * 10_000) / 10_000;
const keyOf = (policy: string): string => policy.replace(/-/g, '_');

/** The fleet seeds to judge on: 1–10, or `BENCH_FLEET_SEEDS`. */
export function fleetSeeds(): number[] {
  const raw = process.env['BENCH_FLEET_SEEDS'];
  if (raw === undefined || raw.trim() === '') return [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  return raw.split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n)) throw new Error(`BENCH_FLEET_SEEDS: '${s}' is not an integer seed`);
    return n;
  });
}

function put(out: Record<string, number>, prefix: string, policies: Readonly<Record<string, PolicySeedFigures>>): void {
  for (const name of POLICY_NAMES) {
    const p = policies[name]!;
    out[`${prefix}_${keyOf(name)}_useful_share`] = round(p.usefulShare);
    out[`${prefix}_${keyOf(name)}_miss_rate`] = round(p.missRate);
    out[`${prefix}_${keyOf(name)}_paired_time_ratio`] = round(p.pairedTimeRatio);
  }
}

/** Runs the job on every seed; keys as in the file comment. */
export async function run(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const rows: SeedFigures[] = [];
  let first: FleetJobResult | undefined;
  let runtimeMs = 0;
  const frontier = new Map<number, { oracleMet: number; attempted: number; met: number; missed: number; minVsOracle: number }>();
  for (const seed of fleetSeeds()) {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-sla-bench-fleet-'));
    try {
      const r = await runFleetJob({ migrations: 300, seed, dbPath: join(dir, 'fleet.db'), alpha: ALPHA, fittedAt: new Date().toISOString() });
      first ??= r;
      runtimeMs += r.runtimeMs.total;
      const row = seedFigures(r);
      rows.push(row);
      put(out, `fleet_s${seed}`, row.policies);
      const oracleMet = row.policies.oracle.met;
      for (const p of await stallBlindFrontier(seed, r.heldOut)) {
        const key = `fleet_s${seed}_stall_blind_${p.marginMs}ms`;
        out[`${key}_useful_vs_oracle`] = round(p.met / oracleMet);
        out[`${key}_miss_rate`] = round(p.missed / p.attempted);
        const sum = frontier.get(p.marginMs) ?? { oracleMet: 0, attempted: 0, met: 0, missed: 0, minVsOracle: Infinity };
        frontier.set(p.marginMs, { oracleMet: sum.oracleMet + oracleMet, attempted: sum.attempted + p.attempted, met: sum.met + p.met, missed: sum.missed + p.missed, minVsOracle: Math.min(sum.minVsOracle, p.met / oracleMet) });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  put(out, 'fleet_pooled', pooledFigures(rows));
  for (const [margin, sum] of frontier) {
    out[`fleet_pooled_stall_blind_${margin}ms_useful_vs_oracle`] = round(sum.met / sum.oracleMet);
    out[`fleet_pooled_stall_blind_${margin}ms_miss_rate`] = round(sum.missed / sum.attempted);
    out[`fleet_stall_blind_${margin}ms_min_useful_vs_oracle`] = round(sum.minVsOracle);
  }
  const goals = judgeFleetGoals(rows, { alpha: ALPHA });
  Object.assign(out, {
    fleet_goal_min_useful_vs_oracle: round(goals.minUsefulVsOracle),
    fleet_goal_max_seed_miss_rate: round(goals.maxSeedMissRate),
    fleet_goal_pooled_miss_rate: round(goals.pooledMissRate),
    fleet_goal_max_paired_time_ratio: round(goals.maxPairedTimeRatio),
    fleet_goal_useful_share_ok: Number(goals.usefulShareOk),
    fleet_goal_seed_miss_ok: Number(goals.seedMissOk),
    fleet_goal_pooled_miss_ok: Number(goals.pooledMissOk),
    fleet_goal_paired_time_ok: Number(goals.pairedTimeOk),
    fleet_goals_ok: Number(goals.allOk),
  });
  for (const f of goals.failures) process.stderr.write(`fleet goal not met: ${f}\n`);
  if (first !== undefined) {
    const by = (name: string) => first.policies.find((p) => p.policy === name)!;
    for (const name of POLICY_NAMES) out[`fleet_miss_rate_${keyOf(name)}`] = round(by(name).missRate);
    Object.assign(out, {
      fleet_time_ratio_governor_vs_oracle: round(first.timeRatioGovernorVsOracle),
      fleet_time_ratio_governor_vs_oracle_paired: round(first.pairedTimeRatioGovernorVsOracle),
      fleet_aborted_share_governor: round(by('governor').abortedShare),
      fleet_aborted_share_oracle: round(by('oracle').abortedShare),
      fleet_runtime_ms: Math.round(runtimeMs / rows.length),
    });
  }
  if (process.env['BENCH_FLEET_STRICT'] === '1' && !goals.allOk) throw new Error(`fleet goals not met:\n${goals.failures.join('\n')}`);
  return out;
}
