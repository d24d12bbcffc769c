/**
 * What `vfio-sla watch` reports while it follows a migration (the timeline, one entry per thing
 * that happened, in the order the QMP socket delivered it) and how it ended. The CLI prints the
 * entries as text or as JSON lines; the names and units are the library's (`…Ms`, `…Bytes`).
 */
import type { Decision } from '../../governor/types.js';
import type { OutcomeRecord } from '../../records/records.js';
import type { LimitChange } from './drive.js';
import type { NotReadyReason } from './qmp-snapshot.js';
import type { ThrottleMechanism, ThrottleLeverStep } from './watch-throttle.js';

/** Fields every entry has: `tMs`, ms since `watch` attached (its own monotonic clock). */
interface At {
  readonly tMs: number;
}

/** Attached and ready: what this QEMU offers and what `watch` set up. */
export interface AttachEntry extends At {
  readonly type: 'attach';
  readonly endpoint: string;
  readonly qemuVersion: string;
  readonly migrationId: string;
  readonly drive: boolean;
  /** QEMU's `downtime-limit` when `watch` attached, ms (the operator's). */
  readonly downtimeLimitMs: number;
  /** `events` capability: already `on`, `enabled` by watch, or `off` (a migration was already running). */
  readonly events: 'on' | 'enabled' | 'off';
  /** With `--drive`: how a `throttle` decision would be applied. */
  readonly throttle: ThrottleMechanism | null;
  /** Status of a migration already running when `watch` attached, if any. */
  readonly runningStatus: string | null;
}

/** Something the operator should know (a lever QEMU lacks, a hold that leaked, ...). */
export interface NoteEntry extends At {
  readonly type: 'note';
  readonly message: string;
}

/** A QMP event (`MIGRATION`, `MIGRATION_PASS`, `VFIO_MIGRATION`, `STOP`, `SHUTDOWN`, ...). */
export interface EventEntry extends At {
  readonly type: 'event';
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** QEMU's timestamp, epoch ms. */
  readonly qemuAtMs: number;
}

/** RAM figures of a poll, as the `ram` record has them. */
export interface PollFigures {
  /** The `ram` record time: ms after the migration's first poll. */
  readonly atMs: number;
  readonly status: string;
  readonly pass: number | null;
  readonly remainingBytes: number | null;
  readonly dirtyBytesPerS: number | null;
  readonly bandwidthBytesPerS: number | null;
  /** QEMU's auto-converge throttle, %, once it throttles. */
  readonly cpuThrottlePercent: number | null;
}

/** A poll the governor was not asked about, and why. */
export interface PollEntry extends At, PollFigures {
  readonly type: 'poll';
  readonly reason: NotReadyReason | 'COMMITTED';
}

/** The governor's decision on a poll. */
export interface DecisionEntry extends At, PollFigures {
  readonly type: 'decision';
  readonly decision: Decision;
  /**
   * With `--drive`: acted on — a `commit` (the hold is released), a `throttle` with a lever, an
   * `abort` confirmed by this poll. What acting did follows as `limit`, `throttle`, `cancel` entries.
   */
  readonly acted: boolean;
}

/** `downtime-limit` changed by `--drive`. */
export interface LimitEntry extends At {
  readonly type: 'limit';
  readonly action: 'hold' | 'release' | 'restore';
  readonly change: LimitChange;
}

/** A throttle lever step by `--drive`. */
export interface ThrottleEntry extends At {
  readonly type: 'throttle';
  readonly step: ThrottleLeverStep;
}

/** `--drive` cancelled the migration (`migrate_cancel`) after a confirmed `abort`. */
export interface CancelEntry extends At {
  readonly type: 'cancel';
  readonly reason: string;
}

/** The last entry. */
export interface EndEntry extends At {
  readonly type: 'end';
  readonly result: WatchResult;
}

export type WatchEntry =
  | AttachEntry
  | NoteEntry
  | EventEntry
  | PollEntry
  | DecisionEntry
  | LimitEntry
  | ThrottleEntry
  | CancelEntry
  | EndEntry;

/**
 * How the watch ended: the migration `completed`, `failed` or was `cancelled`; `completed` but
 * QEMU never gave its final statistics (`no-statistics`); the QMP socket closed (`qmp-closed`:
 * QEMU exited or dropped the connection) or a command failed or timed out (`qmp-error`); or the
 * watch was stopped (`interrupted`); or something else went wrong (`error`: a bug, a bad reply).
 */
export type WatchEnd = 'completed' | 'no-statistics' | 'failed' | 'cancelled' | 'qmp-closed' | 'qmp-error' | 'interrupted' | 'error';

/** What the watch leaves behind. */
export interface WatchResult {
  readonly end: WatchEnd;
  /** One sentence for people: what happened, to which migration. */
  readonly message: string;
  readonly migrationId: string;
  /** QEMU's last migration status seen, if any. */
  readonly status: string | null;
  /** QEMU's `downtime`, ms, once completed with statistics. */
  readonly downtimeMs: number | null;
  /** Who triggered the switchover: the governor (`--drive` released the hold), QEMU's own rule, or nobody yet. */
  readonly switchoverBy: 'governor' | 'qemu' | null;
  /** The outcome record stored, if any. */
  readonly outcome: OutcomeRecord | null;
  /** Records handed to the pipeline, by kind. */
  readonly records: { readonly ram: number; readonly transfer: number; readonly outcome: number; readonly attempt: number };
  /** `--drive` cancelled the migration itself (governor `abort`). */
  readonly cancelledByWatch: boolean;
}
