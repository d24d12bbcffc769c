/**
 * The QAPI types of the migration commands the client wraps, as QEMU puts them on the wire
 * (kebab-case members, QEMU's units), from `qapi/migration.json` and `qapi/run-state.json`.
 * Members newer than QEMU 7.2 (Debian 12) are optional and marked with their version; members
 * this library does not use are still passed through (the types are open, not exhaustive).
 * Converting to the library's `…Ms` / `…Bytes` names is telemetry's job, not this file's.
 */
import type { QmpReceivedEvent } from './qmp-protocol.js';

/** `MigrationStatus` (2.3+). */
export type MigrationStatus =
  | 'none'
  | 'setup'
  | 'cancelling'
  | 'cancelled'
  | 'active'
  | 'postcopy-active'
  | 'postcopy-paused'
  | 'postcopy-recover-setup'
  | 'postcopy-recover'
  | 'completed'
  | 'failed'
  | 'colo'
  | 'pre-switchover'
  | 'device'
  | 'wait-unplug';

/** Statuses after which QEMU's migration state machine does not move again by itself. */
export const MIGRATION_FINAL_STATUSES: ReadonlySet<string> = new Set<MigrationStatus>(['completed', 'failed', 'cancelled']);

/** `MigrationStats` (the `ram` member). Sizes in bytes, `mbps` in Mbit/s. */
export interface MigrationStats {
  readonly transferred: number;
  /** RAM still dirty, bytes — RAM only, no VFIO state. */
  readonly remaining: number;
  readonly total: number;
  /** Zero pages. */
  readonly duplicate: number;
  readonly normal: number;
  readonly 'normal-bytes': number;
  /** Pages dirtied per second, recomputed at a bitmap sync once ≥ 1 s has passed. */
  readonly 'dirty-pages-rate': number;
  /** Mbit/s over the last ~100 ms window (`BUFFER_DELAY`); after completion, the average. */
  readonly mbps: number;
  /** Dirty-bitmap syncs: the pre-copy pass number. */
  readonly 'dirty-sync-count': number;
  readonly 'postcopy-requests': number;
  readonly 'page-size': number;
  readonly 'multifd-bytes': number;
  readonly 'pages-per-second': number;
  /** 7.0+ */
  readonly 'precopy-bytes'?: number;
  /** 7.0+: bytes sent while the guest was stopped. */
  readonly 'downtime-bytes'?: number;
  /** 7.0+ */
  readonly 'postcopy-bytes'?: number;
  /** 7.1+ */
  readonly 'dirty-sync-missed-zero-copy'?: number;
}

/** `SocketAddress` as `socket-address` reports it (inet only is what migration over TCP shows). */
export interface MigrationSocketAddress {
  readonly type: string;
  readonly host?: string;
  /** A string in QAPI (`InetSocketAddress.port`). */
  readonly port?: string;
  readonly path?: string;
}

/** `MigrationInfo`, the return of `query-migrate`; `{}` before any migration. */
export interface MigrationInfo {
  readonly status?: MigrationStatus;
  /** Present while `active` and once `completed`. */
  readonly ram?: MigrationStats;
  /** 5.2+: present with migratable VFIO devices; bytes sent by all of them. */
  readonly vfio?: { readonly transferred: number };
  /** ms since the migration started; the final total once it ended. */
  readonly 'total-time'?: number;
  /** ms, RAM-only estimate, present while active. */
  readonly 'expected-downtime'?: number;
  /** ms, present on completion: source-side `downtime_end − downtime_start`. */
  readonly downtime?: number;
  /** ms before the iterations began. */
  readonly 'setup-time'?: number;
  /** Auto-converge throttle, %, once throttling started. */
  readonly 'cpu-throttle-percentage'?: number;
  readonly 'error-desc'?: string;
  readonly 'blocked-reasons'?: readonly string[];
  /** 4.0+: the address an incoming TCP migration really listens on (port 0 resolved). */
  readonly 'socket-address'?: readonly MigrationSocketAddress[];
  /** 8.1+, µs */
  readonly 'dirty-limit-throttle-time-per-round'?: number;
  /** 8.1+, µs */
  readonly 'dirty-limit-ring-full-time'?: number;
}

/** `MigrationCapability` values this library knows (QEMU adds more; any string is accepted). */
export type MigrationCapability =
  | 'xbzrle'
  | 'rdma-pin-all'
  | 'auto-converge'
  | 'zero-blocks'
  | 'events'
  | 'postcopy-ram'
  | 'x-colo'
  | 'release-ram'
  | 'return-path'
  | 'pause-before-switchover'
  | 'multifd'
  | 'dirty-bitmaps'
  | 'postcopy-blocktime'
  | 'late-block-activate'
  | 'x-ignore-shared'
  | 'validate-uuid'
  | 'background-snapshot'
  | 'zero-copy-send'
  | 'postcopy-preempt'
  /** 8.1+ */
  | 'switchover-ack'
  /** 8.1+, needs KVM with `dirty-ring-size` */
  | 'dirty-limit'
  /** 9.0+ */
  | 'mapped-ram';

/** Capability → enabled, as set by `migrate-set-capabilities` and read by `query-migrate-capabilities`. */
export type MigrationCapabilities = Readonly<Partial<Record<MigrationCapability, boolean>>>;

/**
 * `MigrateSetParameters` / `MigrationParameters` members the switchover work touches (QEMU's
 * defaults from `migration/options.c` in brackets). Other members pass through unchanged.
 */
export interface MigrationParameters {
  /** ms [300] (QEMU caps it at 2 000 000). */
  readonly 'downtime-limit'?: number;
  /** bytes/s [128 MiB/s, `MAX_THROTTLE`]. */
  readonly 'max-bandwidth'?: number;
  /** 8.2+, bytes/s; only feeds the switchover threshold [0 = use the estimate]. */
  readonly 'avail-switchover-bandwidth'?: number;
  /** % [50] */
  readonly 'throttle-trigger-threshold'?: number;
  /** % [20] */
  readonly 'cpu-throttle-initial'?: number;
  /** % [10] */
  readonly 'cpu-throttle-increment'?: number;
  /** 5.1+ [false] */
  readonly 'cpu-throttle-tailslow'?: boolean;
  /** % [99] */
  readonly 'max-cpu-throttle'?: number;
  /** [2] */
  readonly 'multifd-channels'?: number;
  /** bytes/s [0 = unlimited] */
  readonly 'max-postcopy-bandwidth'?: number;
  /** 8.1+, MB/s [1] */
  readonly 'vcpu-dirty-limit'?: number;
  /** 8.1+, ms [1000] */
  readonly 'x-vcpu-dirty-limit-period'?: number;
  readonly [member: string]: unknown;
}

/** `RunState` (qapi/run-state.json), the `status` of `query-status`. */
export type RunState =
  | 'debug'
  | 'inmigrate'
  | 'internal-error'
  | 'io-error'
  | 'paused'
  | 'postmigrate'
  | 'prelaunch'
  | 'finish-migrate'
  | 'restore-vm'
  | 'running'
  | 'save-vm'
  | 'shutdown'
  | 'suspended'
  | 'watchdog'
  | 'guest-panicked'
  | 'colo';

/** `StatusInfo`, the return of `query-status`. */
export interface StatusInfo {
  readonly running: boolean;
  readonly status: RunState;
}

/** `DirtyLimitInfo` (7.1+), one element of `query-vcpu-dirty-limit`. Rates in MB/s. */
export interface DirtyLimitInfo {
  readonly 'cpu-index': number;
  readonly 'limit-rate': number;
  readonly 'current-rate': number;
}

/** `MIGRATION` event data (2.4+; needs the `events` capability): every status change. */
export type MigrationEventData = {
  readonly status: MigrationStatus;
};

/** `MIGRATION_PASS` event data (2.6+; needs `events`): a pre-copy pass (bitmap sync) starts. */
export type MigrationPassEventData = {
  readonly pass: number;
};

/** Narrows a QMP event to `MIGRATION`. */
export function isMigrationEvent(e: QmpReceivedEvent): e is QmpReceivedEvent<MigrationEventData> {
  return e.event === 'MIGRATION' && typeof e.data['status'] === 'string';
}

/** Narrows a QMP event to `MIGRATION_PASS`. */
export function isMigrationPassEvent(e: QmpReceivedEvent): e is QmpReceivedEvent<MigrationPassEventData> {
  return e.event === 'MIGRATION_PASS' && typeof e.data['pass'] === 'number';
}
