/**
 * The `oracle` policy: the lower bound. It knows, at every poll, the exact blackout a switchover
 * started now would have (`fleet/true-blackout.ts`: the same device noise draws, link noise and
 * stalls the real switchover then meets) and switches at the **earliest poll where it fits the
 * deadline** (or the guest's own timeout when lower, `missLimitMs`). It runs on the same QEMU as
 * the others (pre-copy, auto-converge when the VM has it, switchover-ack gating) but never
 * throttles on its own. When no poll within the time
 * budget fits, it aborts at the end of the budget: it never misses, so its miss rate is 0 by
 * construction and its aborted share is the share of VMs no switchover instant could serve.
 *
 * The **stall-blind** variant (`stallBlind`) knows all of that except one draw: whether this
 * attempt meets the simulator's rare VM-level stall (1 in 40, 100–400 ms, `VM_COSTS`), which
 * no VMM can see before it stops the vCPUs. It switches at the earliest poll where the blackout
 * without the stall, plus `marginMs`, fits — and misses when the stall comes. It is the frontier
 * the governor can be held to: the governor does not foresee the stall either, and knows far
 * less besides (device and link noise, its own model's error). Throttling like
 * `oracle-throttle`, fleet seeds 1–10 (`bench/fleet.ts`, which reports this frontier): margin
 * 0 ms, 115 % of the oracle's useful share at 2.07 % misses; 50 ms, 98 % at 1.60 %; 100 ms, 95 %
 * (88 % on the worst seed) at 1.23 % (before loads waited for their image, `migration-world.ts`:
 * 115 % at 2.13 %, 98 % at 1.63 %, 90 % and 81 % at 1.23 %). Development seeds 11–20, before:
 * 0 ms 116 % at 1.47 %; 30 ms 104 % at 1.37 %; 60 ms 94 % at 1.20 %; 100 ms 88 % (84–96 % per
 * seed) at 1.00 %. So a margin rule that cannot foresee the stall does not complete ≥ 95 % of
 * what the clairvoyant oracle completes on every seed with misses ≤ 1 %, even knowing every
 * other draw.
 */
import { DIRTY_LIMIT_FLOOR_BYTES_PER_S } from '../fleet/constants.js';
import type { MigrationWorld } from '../fleet/migration-world.js';
import { TrueBlackout } from '../fleet/true-blackout.js';
import { missLimitMs } from '../fleet/vm-spec.js';
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
  /**
   * Do not foresee the attempt's VM-level stall; switch when the blackout without it plus
   * `marginMs` (≥ 0) fits. Named `oracle-stall-blind[-throttle]+<margin>ms`. Default: foresee it.
   */
  readonly stallBlind?: { readonly marginMs: number };
}

/** Perfect knowledge of the blackout (or all of it but the stall); earliest fitting poll. */
export class OraclePolicy implements Policy {
  readonly name: string;
  readonly qemuAutoConverge = true;
  private readonly throttle: boolean;
  private readonly marginMs: number | null;

  constructor(options: OracleOptions = {}) {
    this.throttle = options.throttle ?? false;
    const margin = options.stallBlind?.marginMs;
    if (margin !== undefined && !(margin >= 0 && margin < Infinity)) throw new RangeError(`stallBlind.marginMs must be a finite number ≥ 0, got ${String(margin)}`);
    this.marginMs = margin ?? null;
    this.name = `oracle${this.marginMs === null ? '' : '-stall-blind'}${this.throttle ? '-throttle' : ''}${this.marginMs === null ? '' : `+${this.marginMs}ms`}`;
  }

  async start(world: MigrationWorld): Promise<PolicyRun> {
    const truth = await TrueBlackout.of(world);
    const throttle = this.throttle;
    // The blind oracle sees the blackout without the stall, and wants it `margin` under the deadline.
    const hidden = this.marginMs === null ? 0 : truth.stallMs;
    // The deadline, or the guest's own timeout when lower: a blackout past either is a miss.
    const limitMs = missLimitMs(world.spec) - (this.marginMs ?? 0);
    return {
      onPoll(w: MigrationWorld): PolicyAction {
        if (w.nowMs >= w.spec.budgetMs) return { kind: 'abort', reason: 'no poll within the budget fits the deadline' };
        const seen = w.canSwitchover && truth.lowerBoundMs(w) - hidden <= limitMs ? truth.blackoutMs(w) - hidden : Infinity;
        // Exact up to float rounding; rounded up to the µs so an exact foresight never reads as exceeded.
        if (seen <= limitMs) return { kind: 'switch', predictedBlackoutMs: Math.ceil(seen * 1000) / 1000 };
        if (throttle) w.limitDirtyRate(DIRTY_LIMIT_FLOOR_BYTES_PER_S);
        return CONTINUE;
      },
    };
  }
}
