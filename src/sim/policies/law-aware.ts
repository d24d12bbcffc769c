/**
 * The law-aware probe: what a policy that knew the simulator *exactly* — every distribution of the
 * switchover (device arc noise, VM-level costs, the link, the stall) and the VM's true state —
 * but none of this attempt's draws could reckon at each poll: the probability that switching now
 * misses the deadline. It never switches; it runs a migration to the end of its budget (throttling
 * the guest to QEMU's floor, like `oracle-throttle`, when asked) and keeps the lowest miss
 * probability it saw, and when. `app/fleet-frontier.ts` turns those into the frontier no
 * non-clairvoyant policy can beat (issue 17).
 *
 * The probability is a Monte Carlo over `draws` switchovers redrawn from the law
 * (`TrueBlackout.resampled`, without the stall), with the stall's own law added exactly
 * (`stallExceedance`): a draw whose blackout b exceeds the deadline d misses; one under it misses
 * when a stall longer than d − b comes. With 16 draws a body miss is seen in steps of 1/16, so
 * small probabilities are mostly the stall's — the frontier is then an upper bound for a policy
 * that cannot see the draws.
 */
import { DIRTY_LIMIT_FLOOR_BYTES_PER_S } from '../fleet/constants.js';
import { stallExceedance } from '../fleet/attempt-costs.js';
import type { MigrationWorld } from '../fleet/migration-world.js';
import { TrueBlackout } from '../fleet/true-blackout.js';
import { missLimitMs } from '../fleet/vm-spec.js';
import { CONTINUE, type Policy, type PolicyAction, type PolicyRun } from './types.js';

/** The lowest miss probability one migration reached, and when. */
export interface LawAwareMinimum {
  /** P(miss) of the best poll to switch at; 1 when no poll could switch (switchover-ack never came). */
  readonly missProbability: number;
  /** Elapsed time of that poll, ms; null when no poll could switch. */
  readonly atMs: number | null;
}

/** Options of {@link LawAwareProbe}. */
export interface LawAwareOptions {
  /** Switchovers redrawn per VM (≥ 1). */
  readonly draws: number;
  /** Throttle the guest to QEMU's floor at every poll (the fastest pre-copy can converge). */
  readonly throttle: boolean;
}

/** Runs each migration to its budget's end and records the lowest law-aware miss probability (never switches). */
export class LawAwareProbe implements Policy {
  readonly name: string;
  readonly qemuAutoConverge = true;
  /** By VM id, for every migration this probe ran. */
  readonly minima = new Map<string, LawAwareMinimum>();

  constructor(private readonly options: LawAwareOptions) {
    if (!(Number.isInteger(options.draws) && options.draws >= 1)) throw new RangeError(`draws must be an integer ≥ 1, got ${String(options.draws)}`);
    this.name = `law-aware${options.throttle ? '-throttle' : ''}`;
  }

  async start(world: MigrationWorld): Promise<PolicyRun> {
    const samples: TrueBlackout[] = [];
    for (let k = 1; k <= this.options.draws; k++) samples.push(await TrueBlackout.resampled(world, k));
    const deadlineMs = missLimitMs(world.spec);
    const id = world.spec.id;
    const minima = this.minima;
    const throttle = this.options.throttle;
    let best: LawAwareMinimum = { missProbability: 1, atMs: null };
    minima.set(id, best);
    return {
      onPoll(w: MigrationWorld): PolicyAction {
        if (w.nowMs >= w.spec.budgetMs) return { kind: 'abort', reason: 'probe: end of the budget' };
        if (w.canSwitchover) {
          let p = 0;
          for (const s of samples) {
            const b = s.blackoutMs(w);
            p += b > deadlineMs ? 1 : stallExceedance(deadlineMs - b);
          }
          p /= samples.length;
          if (p < best.missProbability) {
            best = { missProbability: p, atMs: w.nowMs };
            minima.set(id, best);
          }
        }
        if (throttle) w.limitDirtyRate(DIRTY_LIMIT_FLOOR_BYTES_PER_S);
        return CONTINUE;
      },
    };
  }
}
