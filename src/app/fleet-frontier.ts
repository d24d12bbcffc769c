/**
 * How close to optimal a governor can get on a fleet seed, given what no VMM can know: the
 * stall-blind oracle (`sim/policies/oracle.ts`) — every draw of the switchover foreseen but the
 * rare VM-level stall — throttling like `oracle-throttle`, at a few safety margins. Each margin is
 * one point of the frontier (useful share against misses) that the clairvoyant oracle is not:
 * that oracle never misses because it sees the stall coming, so ≥ 95 % of its useful share at
 * ≤ α misses can lie beyond any policy's reach (issue 17; numbers in `bench/fleet.ts`).
 */
import { summarize } from '../sim/fleet/metrics.js';
import { runMigration } from '../sim/fleet/run-migration.js';
import { DEFAULT_FLEET_MIX, type FleetMix } from '../sim/fleet/vm-spec.js';
import { OraclePolicy } from '../sim/policies/oracle.js';
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
  for (const marginMs of margins) {
    const policy = new OraclePolicy({ throttle: true, stallBlind: { marginMs } });
    const results = [];
    for (const spec of fleet) results.push(await runMigration(spec, policy));
    // The fleet job's own tally (`summarize`): completed within the deadline = completed − missed.
    const s = summarize(policy.name, results);
    points.push({ marginMs, attempted: s.attempted, met: s.completed - s.missed, missed: s.missed });
  }
  return points;
}
