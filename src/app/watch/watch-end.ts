/**
 * How a watch ends: why it stopped ({@link WatchEndSignal}), then {@link finishWatch} — undo the
 * steering while QEMU still listens, store what was recorded (the importer's `transfer` pair and
 * `outcome`, or the governor's outcome when `--drive` committed), and say what happened.
 */
import type { Decision } from '../../governor/types.js';
import { attemptRecord, GOVERNOR_POLICY, outcomeRecord } from '../../governor/outcome.js';
import type { AttemptRecord, AttemptStatus, OutcomeRecord } from '../../records/records.js';
import type { DowntimeLever, LimitChange } from './drive.js';
import { MIGRATION_FINAL_STATUSES } from '../../qemu/qapi-migration.js';
import type { QmpClient } from '../../qemu/qmp-client.js';
import { QmpClosedError, QmpConnectError, QmpError } from '../../qemu/qmp-errors.js';
import { attemptTotalTimeMs, CANCELLED_ELSEWHERE_REASON, completedPoll, qemuFailedReason } from '../../qemu/qmp-records.js';
import type { QmpMigration } from '../../qemu/qmp-types.js';
import type { WatchRecorder } from './watch-recorder.js';
import type { ThrottleLever } from './watch-throttle.js';
import type { WatchEnd, WatchResult } from './watch-types.js';

/** What the loop learnt along the way, read by the end. */
export interface WatchState {
  /** QEMU's latest migration status (poll or `MIGRATION` event). */
  status: string | null;
  /** The committed decision and its poll time (ms after the first poll, the records' clock). */
  committed: { readonly decision: Decision; readonly atMs: number } | null;
  /** The latest decision taken (committed or not): its reason and bound go into the attempt record. */
  lastDecision: Decision | null;
  /** QEMU acknowledged the release of the hold (read in wire order). */
  releasedAtWire: boolean;
  switchoverBy: 'governor' | 'qemu' | null;
  cancelledByWatch: boolean;
  /** Why the governor's abort led to the cancel. */
  cancelReason: string | null;
  eventsEnabledByUs: boolean;
  /** `SHUTDOWN` event reason, if QEMU announced it is going away. */
  shutdown: string | null;
  /** Still steering (`--drive`, and no abort handed the switchover back). */
  driving: boolean;
}

/** Why the loop stopped. */
export class WatchEndSignal {
  constructor(
    readonly end: WatchEnd,
    readonly why: string,
    /** Whether the message should say where the migration was (not for a failed connect). */
    readonly afterAttach = true,
  ) {}

  /** The end for a final migration status. */
  static forStatus(status: string, errorDesc: string | undefined): WatchEndSignal {
    if (status === 'completed') return new WatchEndSignal('completed', 'completed');
    if (status === 'failed') return new WatchEndSignal('failed', qemuFailedReason(errorDesc));
    return new WatchEndSignal('cancelled', 'cancelled');
  }

  /** The end for an error thrown while following: a closed socket, a failed command, or a bug. */
  static from(e: unknown): WatchEndSignal {
    if (e instanceof QmpConnectError) return new WatchEndSignal('qmp-closed', e.message, false);
    if (e instanceof QmpClosedError) return new WatchEndSignal('qmp-closed', `QMP connection ${e.endpoint} closed (QEMU exited, was killed, or dropped this client)`);
    if (e instanceof QmpError) return new WatchEndSignal('qmp-error', `${e.code}: ${e.message}`);
    const err = e as Error & { code?: string };
    return new WatchEndSignal('error', `${err.code === undefined ? '' : `${err.code}: `}${err.message}`);
  }
}

/** What {@link finishWatch} needs besides the state. */
export interface FinishContext {
  readonly qmp: QmpClient;
  readonly recorder: WatchRecorder;
  readonly lever: DowntimeLever | undefined;
  readonly throttle: ThrottleLever | undefined;
  readonly migrationId: string;
  /** The deadline the watch decided against (`--deadline`): the attempt record's. */
  readonly deadlineMs: number;
  readonly note: (message: string) => void;
  readonly restored: (change: LimitChange) => void;
}

/** Undoes the steering, stores the closing records, and builds the result. */
export async function finishWatch(signal: WatchEndSignal, st: WatchState, ctx: FinishContext): Promise<WatchResult> {
  if (ctx.qmp.state === 'ready') await undoSteering(st, ctx);
  const migration = ctx.recorder.migration();
  const done = completedPoll(migration);
  const downtimeMs = signal.end === 'completed' && done !== undefined ? done.downtimeMs : null;
  let outcome: OutcomeRecord | undefined;
  if (downtimeMs !== null && st.switchoverBy === 'governor' && st.committed !== null) {
    outcome = outcomeRecord(ctx.migrationId, st.committed.decision, st.committed.atMs, downtimeMs);
  }
  const finals = ctx.recorder.finish(outcome, governorAttemptOf(signal, st, ctx, migration, outcome));
  const stored = finals.find((r): r is OutcomeRecord => r.kind === 'outcome') ?? null;
  const attempt = finals.find((r): r is AttemptRecord => r.kind === 'attempt');
  return {
    end: signal.end,
    message: message(signal, st, ctx, downtimeMs, stored),
    migrationId: ctx.migrationId,
    status: st.status,
    downtimeMs,
    switchoverBy: st.switchoverBy,
    outcome: stored,
    records: {
      ram: ctx.recorder.ramRecordCount,
      transfer: finals.filter((r) => r.kind === 'transfer').length,
      outcome: stored === null ? 0 : 1,
      attempt: attempt === undefined ? 0 : 1,
    },
    cancelledByWatch: st.cancelledByWatch,
  };
}

async function undoSteering(st: WatchState, ctx: FinishContext): Promise<void> {
  const running = st.status !== null && !MIGRATION_FINAL_STATUSES.has(st.status);
  const attempt = async (what: string, f: () => Promise<void>): Promise<void> => {
    try {
      await f();
    } catch (e) {
      ctx.note(`could not restore ${what}: ${(e as Error).message}`);
    }
  };
  if (ctx.lever !== undefined) {
    const lever = ctx.lever;
    await attempt(`downtime-limit ${lever.originalLimitMs} ms`, async () => {
      const change = await lever.restore();
      if (change !== undefined) ctx.restored(change);
    });
  }
  if (ctx.throttle !== undefined) {
    for (const e of await ctx.throttle.restore(running)) ctx.note(`could not restore the throttle settings: ${e.message}`);
    if (ctx.throttle.autoConvergeEnabledByUs) ctx.note('auto-converge stays on: QEMU refuses capability changes while a migration runs');
  }
  if (st.eventsEnabledByUs && !running) {
    await attempt("the 'events' capability", async () => {
      await ctx.qmp.migrateSetCapabilities({ events: false });
      st.eventsEnabledByUs = false;
    });
  }
}

/**
 * The attempt record of a migration `--drive` steered: policy `governor` when it held the
 * switchover (or cancelled: the governor's abort), with the last decision's reason and bound.
 * Undefined when QEMU's own rule decided — the importer's `attempt` of the log (policy `qemu`,
 * `qemuAttemptRecord`) is stored then, so that `watch` stores what `import` of its log makes —
 * and when the watch stopped before the migration ended (QMP closed, interrupted, an error): the
 * end is unknown, and counting it as any status would be a guess. Total time: QEMU's
 * `total-time` once completed, else the first poll to the last. The deadline is the governor's
 * outcome's when there is one, else the decisions'.
 */
function governorAttemptOf(
  signal: WatchEndSignal,
  st: WatchState,
  ctx: FinishContext,
  migration: QmpMigration,
  outcome: OutcomeRecord | undefined,
): AttemptRecord | undefined {
  const governed = st.switchoverBy === 'governor' || st.cancelledByWatch || (st.driving && st.switchoverBy === null);
  if (!governed) return undefined;
  const status: AttemptStatus | undefined =
    signal.end === 'completed' || signal.end === 'no-statistics' ? 'completed'
      : signal.end === 'failed' ? 'failed'
        : signal.end === 'cancelled' ? (st.cancelledByWatch ? 'aborted' : 'cancelled')
          : undefined;
  if (status === undefined) return undefined;
  const reason =
    status === 'aborted' ? (st.cancelReason ?? st.lastDecision?.reason ?? 'governor abort')
      : status === 'failed' ? signal.why
        : status === 'cancelled' ? CANCELLED_ELSEWHERE_REASON
          : undefined;
  return attemptRecord(
    ctx.migrationId,
    st.lastDecision,
    { status, totalTimeMs: attemptTotalTimeMs(migration), deadlineMs: outcome?.deadlineMs ?? st.lastDecision?.deadlineMs ?? ctx.deadlineMs, ...(reason === undefined ? {} : { reason }) },
    GOVERNOR_POLICY,
  );
}

function message(signal: WatchEndSignal, st: WatchState, ctx: FinishContext, downtimeMs: number | null, outcome: OutcomeRecord | null): string {
  const id = ctx.migrationId;
  const last = st.status === null ? 'before any migration started' : `while the migration was ${st.status}`;
  switch (signal.end) {
    case 'completed': {
      if (downtimeMs === null || outcome === null) return `migration ${id} completed`;
      const by = st.switchoverBy === 'governor' ? `the governor (commit ${st.committed?.decision.reason ?? ''})` : "QEMU's own rule";
      return `migration ${id} completed: downtime ${downtimeMs} ms, ${outcome.met ? 'met' : 'missed'} the ${outcome.deadlineMs} ms deadline ` +
        `(predicted ${outcome.predictedBlackoutMs.toFixed(0)} ms); switchover by ${by}`;
    }
    case 'no-statistics':
      return `migration ${id} completed, but ${signal.why}: recorded without an outcome`;
    case 'failed':
      return `migration ${id} ${signal.why}`;
    case 'cancelled':
      return st.cancelledByWatch
        ? `migration ${id} cancelled by vfio-sla watch --drive: ${st.cancelReason ?? 'governor abort'}`
        : `migration ${id} was cancelled (migrate_cancel by another QMP client, or QEMU)`;
    case 'qmp-closed':
      if (!signal.afterAttach) return signal.why;
      return `${signal.why} ${last}${st.shutdown === null ? '' : `; QEMU had announced SHUTDOWN (${st.shutdown})`}`;
    case 'qmp-error':
      return `QMP command failed ${last}: ${signal.why}`;
    case 'interrupted':
      return `stopped by a signal ${last}${ctx.throttle === undefined ? '' : "; QEMU's downtime-limit and throttle settings restored"}`;
    case 'error':
      return `internal error ${last}: ${signal.why}`;
  }
}
