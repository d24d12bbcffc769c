/**
 * A switchover policy in the fleet simulator: at every 100 ms poll it looks at a migrating VM
 * and says continue, switch over now (and how), or abort. Throttling is an effect a policy has
 * on the VM (`world.limitDirtyRate`) while it continues.
 *
 * Policies must look only at what their real counterpart sees — `query-migrate` figures
 * (`world.ram.remainingBytes`, `measuredDirtyBytesPerS`, `world.windowBytesPerS`, `pass`),
 * uAPI calls on the source devices, `world.canSwitchover`, the VM's configuration (`world.spec`
 * minus the workload's truth) — except the oracle, whose point is to know everything.
 */
import type { EnterStopCopy, MigrationWorld } from '../fleet/migration-world.js';

/** What a policy says at a poll. */
export type PolicyAction =
  | { readonly kind: 'continue' }
  /** Switch over now. `predictedBlackoutMs` is the policy's own estimate (QEMU: its expected downtime). */
  | { readonly kind: 'switch'; readonly predictedBlackoutMs: number; readonly enter?: EnterStopCopy }
  /** Give up; the VM keeps running on the source. `predictedBlackoutMs`: the policy's bound at this last decision, if it made one. */
  | { readonly kind: 'abort'; readonly reason: string; readonly predictedBlackoutMs?: number };

/** The policy's state for one migration. */
export interface PolicyRun {
  onPoll(world: MigrationWorld): PolicyAction | Promise<PolicyAction>;
}

/** A policy: a name and a factory of per-migration runs. */
export interface Policy {
  /** Stable name, used in tables, JSON and outcome records. */
  readonly name: string;
  /** Whether QEMU's auto-converge (when the VM has it on) runs under this policy. */
  readonly qemuAutoConverge: boolean;
  start(world: MigrationWorld): PolicyRun | Promise<PolicyRun>;
  /** How the migration `start` began ended (a policy that learns online closes its loop here). */
  ended?(result: EndedMigration): void;
}

/** What a policy learns when one of its migrations ends. */
export interface EndedMigration {
  readonly completed: boolean;
  /** Blackout within the deadline; `null` when the switchover never completed. */
  readonly met: boolean | null;
}

export const CONTINUE: PolicyAction = Object.freeze({ kind: 'continue' });
