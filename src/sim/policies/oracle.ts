/**
 * The `oracle` policy: the lower bound. It knows, at every poll, the exact blackout a switchover
 * started now would have (`fleet/true-blackout.ts`: the same device noise draws, link noise and
 * stalls the real switchover then meets) and switches at the **earliest poll where it fits the
 * deadline**. It runs on the same QEMU as the others (pre-copy, auto-converge when the VM has
 * it, switchover-ack gating) but never throttles on its own. When no poll within the time
 * budget fits, it aborts at the end of the budget: it never misses, so its miss rate is 0 by
 * construction and its aborted share is the share of VMs no switchover instant could serve.
 */
import { DIRTY_LIMIT_FLOOR_BYTES_PER_S } from '../fleet/constants.js';
import type { MigrationWorld } from '../fleet/migration-world.js';
import { TrueBlackout } from '../fleet/true-blackout.js';
import { CONTINUE, type Policy, type PolicyAction, type PolicyRun } from './types.js';

/** Options of {@link OraclePolicy}. */
export interface OracleOptions {
  /**
   * Also throttle, with the lever the governor has (QEMU dirty-limit): at every poll that does
   * not fit, the guest's dirty rate is capped at QEMU's floor (1 MB/s per VM here), the fastest
   * pre-copy can converge — the most switchovers any policy with these levers could complete.
   * Named `oracle-throttle`. Default false.
   */
  readonly throttle?: boolean;
}

/** Perfect knowledge of the blackout; earliest fitting poll. */
export class OraclePolicy implements Policy {
  readonly name: string;
  readonly qemuAutoConverge = true;
  private readonly throttle: boolean;

  constructor(options: OracleOptions = {}) {
    this.throttle = options.throttle ?? false;
    this.name = this.throttle ? 'oracle-throttle' : 'oracle';
  }

  async start(world: MigrationWorld): Promise<PolicyRun> {
    const truth = await TrueBlackout.of(world);
    const throttle = this.throttle;
    return {
      onPoll(w: MigrationWorld): PolicyAction {
        if (w.nowMs >= w.spec.budgetMs) return { kind: 'abort', reason: 'no poll within the budget fits the deadline' };
        const fitsNow = w.canSwitchover && truth.lowerBoundMs(w) <= w.spec.deadlineMs ? truth.blackoutMs(w) : Infinity;
        // Exact up to float rounding; rounded up to the µs so an exact foresight never reads as exceeded.
        if (fitsNow <= w.spec.deadlineMs) return { kind: 'switch', predictedBlackoutMs: Math.ceil(fitsNow * 1000) / 1000 };
        if (throttle) w.limitDirtyRate(DIRTY_LIMIT_FLOOR_BYTES_PER_S);
        return CONTINUE;
      },
    };
  }
}
