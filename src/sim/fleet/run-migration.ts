/**
 * One VM migrated under one policy: pre-copy polls every 100 ms, the policy's verdict at each,
 * switchover attempts until one completes, or an abort. Deterministic: the VM's seed decides
 * everything the policy does not.
 */
import type { AttemptStatus } from '../../records/records.js';
import type { Policy } from '../policies/types.js';
import { MigrationWorld } from './migration-world.js';
import type { MigrationRecorder } from './recorder.js';
import { missLimitMs, type VmSpec } from './vm-spec.js';

/** How one migration ended, with everything the fleet metrics need. */
export interface MigrationResult {
  readonly vmId: string;
  readonly policy: string;
  readonly deadlineMs: number;
  /** The switchover completed (the VM runs on the destination). */
  readonly completed: boolean;
  /** How the attempt ended: `completed`, `aborted` by the policy, or `failed` (a device needs reset, a runaway policy). */
  readonly status: Exclude<AttemptStatus, 'cancelled'>;
  /** Why it was aborted (`null` when completed). */
  readonly abortReason: string | null;
  /** Guest paused to running on the destination, ms (`null` when aborted). */
  readonly blackoutMs: number | null;
  /** The policy's own estimate at the switchover, or at its last decision before an abort (QEMU: expected-downtime; governor: its 1 − α bound). */
  readonly predictedBlackoutMs: number | null;
  /** `blackoutMs ≤ deadlineMs`, and ≤ the guest's own timeout when it has one (`null` when aborted). */
  readonly met: boolean | null;
  /** Start to VM running on the destination, or to the abort, ms. */
  readonly totalTimeMs: number;
  /** Switchover attempts that committed (vCPUs paused), completed or unwound. */
  readonly attempts: number;
  /** Attempts brought back before STOP_COPY (the governor's overrun check). */
  readonly unwinds: number;
  /** Guest pause time of unwound attempts, ms. */
  readonly pausedInUnwindsMs: number;
  /** Largest guest slowdown any throttle imposed (auto-converge or dirty-limit), in [0, 1]. */
  readonly maxSlowdown: number;
  readonly polls: number;
}

/** Options of {@link runMigration}. */
export interface RunMigrationOptions {
  readonly recorder?: MigrationRecorder;
}

/** A policy that keeps saying "continue" past twice the budget has a bug; stop it there. */
const RUNAWAY_BUDGET_FACTOR = 2;

/** Migrates `spec` under `policy`. */
export async function runMigration(spec: VmSpec, policy: Policy, options: RunMigrationOptions = {}): Promise<MigrationResult> {
  const recorder = options.recorder;
  const world = await MigrationWorld.start(spec, {
    autoConverge: spec.autoConverge && policy.qemuAutoConverge,
    ...(recorder === undefined ? {} : { observer: recorder }),
  });
  const run = await policy.start(world);
  let unwinds = 0;
  let maxSlowdown = 0;
  const end = (status: MigrationResult['status'], abortReason: string | null, blackoutMs: number | null, predictedBlackoutMs: number | null): MigrationResult => ({
    vmId: spec.id,
    policy: policy.name,
    deadlineMs: spec.deadlineMs,
    completed: status === 'completed',
    status,
    abortReason,
    blackoutMs,
    predictedBlackoutMs,
    met: blackoutMs === null ? null : blackoutMs <= missLimitMs(spec),
    totalTimeMs: world.nowMs,
    attempts: world.attempts,
    unwinds,
    pausedInUnwindsMs: world.pausedInUnwindsMs,
    maxSlowdown,
    polls: world.pollIndex,
  });
  for (;;) {
    await world.poll();
    if (world.ram.slowdown > maxSlowdown) maxSlowdown = world.ram.slowdown;
    const action = await run.onPoll(world);
    if (action.kind === 'continue') {
      if (world.nowMs > spec.budgetMs * RUNAWAY_BUDGET_FACTOR) return finish(world, end('failed', 'runaway: policy never ended the migration', null, null), recorder, policy);
      continue;
    }
    if (action.kind === 'abort') return finish(world, end('aborted', action.reason, null, action.predictedBlackoutMs ?? null), recorder, policy);
    recorder?.onDecision?.(world, action.predictedBlackoutMs);
    const outcome = await world.switchover(action.enter);
    switch (outcome.kind) {
      case 'completed': {
        const predicted = outcome.predictedBlackoutMs ?? action.predictedBlackoutMs;
        recorder?.onCompleted?.(world, outcome, policy.name, predicted);
        // Total time ends when the guest runs on the destination, before the source's cleanup arcs.
        return finish(world, { ...end('completed', null, outcome.blackoutMs, predicted), totalTimeMs: outcome.endAtMs }, recorder, policy);
      }
      case 'not-committed':
        break;
      case 'unwound':
        unwinds++;
        break;
      case 'failed':
        return finish(world, end('failed', `device needs reset: ${outcome.reason}`, null, null), recorder, policy);
    }
  }
}

async function finish(world: MigrationWorld, result: MigrationResult, recorder: MigrationRecorder | undefined, policy: Policy): Promise<MigrationResult> {
  if (!result.completed) recorder?.onAborted?.(world);
  recorder?.onEnded?.(result);
  await world.settle();
  policy.ended?.(result);
  return result;
}
