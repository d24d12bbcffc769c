/** Test helpers for the fleet simulator: a policy that switches at a chosen poll, VM specs. */
import type { MigrationWorld } from '../../../src/sim/fleet/migration-world.js';
import { drawVmSpec, type VmSpec } from '../../../src/sim/fleet/vm-spec.js';
import { TrueBlackout } from '../../../src/sim/fleet/true-blackout.js';
import type { Policy, PolicyAction, PolicyRun } from '../../../src/sim/policies/types.js';

/**
 * Switches at the first poll ≥ `atPoll` where QEMU allows it, remembering what the oracle's
 * evaluator said the blackout would be at that instant.
 */
export class SwitchAtPoll implements Policy {
  readonly name = 'switch-at-poll';
  readonly qemuAutoConverge = true;
  /** TrueBlackout's answer at the switch, by VM id. */
  readonly expected = new Map<string, number>();

  constructor(private readonly atPoll: number) {}

  async start(world: MigrationWorld): Promise<PolicyRun> {
    const truth = await TrueBlackout.of(world);
    return {
      onPoll: (w: MigrationWorld): PolicyAction => {
        if (w.pollIndex < this.atPoll || !w.canSwitchover) return { kind: 'continue' };
        const b = truth.blackoutMs(w);
        this.expected.set(w.spec.id, b);
        return { kind: 'switch', predictedBlackoutMs: b };
      },
    };
  }
}

/** A VM of fleet 99 with some fields overridden. */
export function vmSpec(index: number, over: Partial<VmSpec> = {}): VmSpec {
  return { ...drawVmSpec(99, index), ...over };
}
