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

/** A calm VM of fleet 99: 8 GiB, light writer, 2 GB/s pre-copy, 2.5 GB/s blackout, 1 s deadline, no auto-converge. */
export function calmVm(index: number, over: Partial<VmSpec> = {}): VmSpec {
  return vmSpec(index, {
    ramBytes: 8 * 1024 ** 3,
    workload: 'light',
    dirtyBytesPerS: 20 * 1024 ** 2,
    wwsBytes: 200 * 1024 ** 2,
    precopyBytesPerS: 2e9,
    blackoutBytesPerS: 2.5e9,
    availSwitchoverBytesPerS: 0,
    autoConverge: false,
    deadlineMs: 1000,
    ...over,
  });
}

/** A VM of fleet 99 with some fields overridden. */
export function vmSpec(index: number, over: Partial<VmSpec> = {}): VmSpec {
  return { ...drawVmSpec(99, index), ...over };
}
