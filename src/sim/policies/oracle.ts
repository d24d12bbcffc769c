/**
 * The `oracle` policy: the lower bound. It knows, at every poll, the exact blackout a switchover
 * started now would have (`fleet/true-blackout.ts`: the same device noise draws, link noise and
 * stalls the real switchover then meets) and switches at the **earliest poll where it fits the
 * deadline**. It runs on the same QEMU as the others (pre-copy, auto-converge when the VM has
 * it, switchover-ack gating) but never throttles on its own. When no poll within the time
 * budget fits, it aborts at the end of the budget: it never misses, so its miss rate is 0 by
 * construction and its aborted share is the share of VMs no switchover instant could serve.
 */
import type { MigrationWorld } from '../fleet/migration-world.js';
import { TrueBlackout } from '../fleet/true-blackout.js';
import { CONTINUE, type Policy, type PolicyAction, type PolicyRun } from './types.js';

/** Perfect knowledge of the blackout; earliest fitting poll. */
export class OraclePolicy implements Policy {
  readonly name = 'oracle';
  readonly qemuAutoConverge = true;

  async start(world: MigrationWorld): Promise<PolicyRun> {
    const truth = await TrueBlackout.of(world);
    return {
      onPoll(w: MigrationWorld): PolicyAction {
        if (w.nowMs >= w.spec.budgetMs) return { kind: 'abort', reason: 'no poll within the budget fits the deadline' };
        if (!w.canSwitchover || truth.lowerBoundMs(w) > w.spec.deadlineMs) return CONTINUE;
        const blackoutMs = truth.blackoutMs(w);
        // Exact up to float rounding; rounded up to the µs so an exact foresight never reads as exceeded.
        return blackoutMs <= w.spec.deadlineMs ? { kind: 'switch', predictedBlackoutMs: Math.ceil(blackoutMs * 1000) / 1000 } : CONTINUE;
      },
    };
  }
}
