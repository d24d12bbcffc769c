/**
 * How close to optimal a governor can get on a fleet seed, given what no VMM can know. Two
 * references beside the clairvoyant oracle (which never misses because it sees every draw of the
 * switchover coming, the rare VM-level stall included):
 * - the **stall-blind oracle** (`sim/policies/oracle.ts`) — every draw foreseen but the stall —
 *   throttling like `oracle-throttle`, at a few safety margins; each margin is one point (useful
 *   share against misses; numbers in `bench/fleet.ts`);
 * - the **law-aware frontier** ({@link lawAwareFrontier}) — nothing of the attempt foreseen, but
 *   the simulator's law known exactly: each VM is switched at its poll of lowest miss probability
 *   (waiting, and throttling to QEMU's floor where that is lower, time free), and the VMs are taken
 *   in order of that probability while their expected misses stay ≤ α of the attempted — the most
 *   a policy that cannot see the draws could complete, in expectation (numbers in
 *   `bench/law-frontier.ts`).
 */
import { summarize } from '../sim/fleet/metrics.js';
import { runMigration } from '../sim/fleet/run-migration.js';
import { DEFAULT_FLEET_MIX, type FleetMix, type VmSpec } from '../sim/fleet/vm-spec.js';
import { LawAwareProbe } from '../sim/policies/law-aware.js';
import { OraclePolicy } from '../sim/policies/oracle.js';
import type { Policy } from '../sim/policies/types.js';
import { heldOutFleet } from './fleet-job.js';

/** The margins the bench reports, ms. */
export const STALL_BLIND_MARGINS_MS: readonly number[] = [0, 50, 100];

/** The stall-blind oracle on one seed at one margin. */
export interface FrontierPoint {
  readonly marginMs: number;
  readonly attempted: number;
  /** Completed within the deadline. */
  readonly met: number;
  /** Completed over the deadline (a stall it did not see). */
  readonly missed: number;
}

/** Replays seed `seed`'s held-out fleet (as the fleet job draws it) under the stall-blind throttling oracle at each margin. */
export async function stallBlindFrontier(seed: number, migrations: number, margins: readonly number[] = STALL_BLIND_MARGINS_MS, mix: FleetMix = DEFAULT_FLEET_MIX): Promise<FrontierPoint[]> {
  const fleet = heldOutFleet(seed, migrations, mix);
  const points: FrontierPoint[] = [];
  for (const marginMs of margins) points.push({ marginMs, ...(await replayTally(fleet, new OraclePolicy({ throttle: true, stallBlind: { marginMs } }))) });
  return points;
}

/** Runs every VM of `fleet` under `policy` and counts with the fleet job's own tally (`summarize`). */
async function replayTally(fleet: readonly VmSpec[], policy: Policy): Promise<{ readonly attempted: number; readonly met: number; readonly missed: number }> {
  const results = [];
  for (const spec of fleet) results.push(await runMigration(spec, policy));
  const s = summarize(policy.name, results);
  // Completed within the deadline = completed − missed.
  return { attempted: s.attempted, met: s.completed - s.missed, missed: s.missed };
}

/** The law-aware frontier on one seed ({@link lawAwareFrontier}). */
export interface LawAwareFrontier {
  readonly attempted: number;
  /** VMs it would switch over. */
  readonly committed: number;
  /** Expected completions within the deadline: Σ (1 − P(miss)) over the committed. */
  readonly expectedMet: number;
  /** Expected misses: Σ P(miss) over the committed (≤ α × attempted). */
  readonly expectedMissed: number;
  /** The same without throttling: waiting alone. */
  readonly withoutThrottle: { readonly committed: number; readonly expectedMet: number; readonly expectedMissed: number };
  /** Each VM's lowest miss probability, waiting or throttling, by VM id: the law's price of committing it. */
  readonly lowest: ReadonlyMap<string, number>;
}

/**
 * Replays seed `seed`'s held-out fleet (as the fleet job draws it) under {@link LawAwareProbe}
 * with and without throttling (`draws` redrawn switchovers per VM), and takes VMs in order of
 * their lowest miss probability while the expected misses stay ≤ `alpha` × attempted.
 */
export async function lawAwareFrontier(seed: number, migrations: number, options: { readonly alpha: number; readonly draws: number; readonly mix?: FleetMix }): Promise<LawAwareFrontier> {
  const fleet = heldOutFleet(seed, migrations, options.mix ?? DEFAULT_FLEET_MIX);
  const waiting = new LawAwareProbe({ draws: options.draws, throttle: false });
  const throttling = new LawAwareProbe({ draws: options.draws, throttle: true });
  for (const spec of fleet) {
    await runMigration(spec, waiting);
    await runMigration(spec, throttling);
  }
  const allowance = options.alpha * fleet.length;
  const lowest = (probe: LawAwareProbe, id: string): number => probe.minima.get(id)?.missProbability ?? 1;
  const withoutThrottle = takeWhileAllowed(fleet.map((s) => lowest(waiting, s.id)), allowance);
  const lowestById = new Map(fleet.map((s) => [s.id, Math.min(lowest(waiting, s.id), lowest(throttling, s.id))]));
  const best = takeWhileAllowed([...lowestById.values()], allowance);
  return { attempted: fleet.length, ...best, withoutThrottle, lowest: lowestById };
}

/** The VMs of lowest miss probability first, while their sum stays ≤ `allowance`. */
function takeWhileAllowed(missProbabilities: readonly number[], allowance: number): { committed: number; expectedMet: number; expectedMissed: number } {
  let committed = 0;
  let expectedMissed = 0;
  for (const p of [...missProbabilities].sort((a, b) => a - b)) {
    if (expectedMissed + p > allowance) break;
    committed++;
    expectedMissed += p;
  }
  return { committed, expectedMet: committed - expectedMissed, expectedMissed };
}
