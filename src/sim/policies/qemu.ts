/**
 * The `qemu` policy: QEMU's own switchover rule with `downtime-limit` set to the VM's deadline
 * (`qemu-rule.ts`), auto-converge when the VM has it on, and the management layer's abort when
 * the time budget is spent (Nova's default `live_migration_timeout_action` = abort, KubeVirt's
 * completion timeout without `allowWorkloadDisruption`; ST §4.2–4.3).
 */
import type { DevicePair } from '../fleet/device-pair.js';
import type { MigrationWorld } from '../fleet/migration-world.js';
import { qemuCompletionCheck, type QemuCheck } from './qemu-rule.js';
import { CONTINUE, type Policy, type PolicyAction, type PolicyRun } from './types.js';

/** Sees what QEMU's exact path learned (a recorder logs it as `size` records, as trace events would). */
export interface QemuObserver {
  onExact?(world: MigrationWorld, check: QemuCheck, devices: readonly DevicePair[]): void;
}

/** QEMU's rule; `name` lets the training fleet record under another policy name. */
export class QemuPolicy implements Policy {
  readonly name: string;
  readonly qemuAutoConverge = true;

  constructor(private readonly options: { readonly name?: string; readonly observer?: QemuObserver } = {}) {
    this.name = options.name ?? 'qemu';
  }

  start(): PolicyRun {
    const observer = this.options.observer;
    return {
      async onPoll(world: MigrationWorld): Promise<PolicyAction> {
        if (world.nowMs >= world.spec.budgetMs) return { kind: 'abort', reason: 'budget spent (management-layer timeout)' };
        const check = await qemuCompletionCheck(world, world.spec.deadlineMs);
        if (check.exact) observer?.onExact?.(world, check, world.pairs);
        return check.complete ? { kind: 'switch', predictedBlackoutMs: check.expectedDowntimeMs } : CONTINUE;
      },
    };
  }
}
