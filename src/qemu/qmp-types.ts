/**
 * Typed QMP migration telemetry, as {@link parseQmpLog} produces it from QEMU's
 * `query-migrate` replies (`MigrationInfo`, `qapi/migration.json`) and QMP events.
 * Names carry units; values are QEMU's, unconverted except seconds → ms for host times.
 */
import type { GovernorLog } from './governor-annotation.js';
import type { VfioLog } from './vfio-records.js';

/** `MigrationInfo.ram` (QEMU `MigrationStats`). Optional fields are newer than QEMU 2.x. */
export interface QmpRamStats {
  /** `total`: guest RAM, bytes. */
  readonly totalBytes: number;
  /** `transferred`: bytes sent so far (all phases). */
  readonly transferredBytes: number;
  /** `remaining`: RAM still dirty, bytes (RAM only, no VFIO). */
  readonly remainingBytes: number;
  /** `precopy-bytes` (7.0). */
  readonly precopyBytes?: number;
  /** `downtime-bytes` (7.0): bytes sent while the guest was stopped. */
  readonly downtimeBytes?: number;
  /** `postcopy-bytes` (7.0). */
  readonly postcopyBytes?: number;
  /** `dirty-sync-count`: dirty-bitmap syncs, ≈ pre-copy pass. */
  readonly dirtySyncCount?: number;
  /** `dirty-pages-rate`, pages/s (recomputed at a sync when ≥ 1 s passed). */
  readonly dirtyPagesPerS?: number;
  /** `page-size`, bytes. */
  readonly pageSizeBytes?: number;
  /** `mbps`: Mbit/s (decimal) over the last ~100 ms window; after completion the average. */
  readonly mbps?: number;
}

/** One typed `query-migrate` reply. */
export interface QmpPoll {
  /**
   * Host receive time, ms: Unix epoch (a wire log's `ts`, a poll array's `ts`), or the file's
   * monotonic clock for a poll array with only `t_monotonic` ({@link QmpMigration.clock}).
   */
  readonly atMs: number;
  /** 1-based line in the source file (for errors and provenance). */
  readonly line: number;
  /** `MigrationStatus`: `setup`, `active`, `device`, `postcopy-active`, `completed`, ... */
  readonly status: string;
  readonly totalTimeMs?: number;
  readonly setupTimeMs?: number;
  /** QEMU's own RAM-only estimate (present while active). */
  readonly expectedDowntimeMs?: number;
  /** Present on completion (and in post-copy once switched). */
  readonly downtimeMs?: number;
  /** Auto-converge throttle, %. */
  readonly cpuThrottlePercent?: number;
  readonly ram?: QmpRamStats;
  /** `vfio.transferred` (5.2+): bytes all VFIO devices sent so far (`vfio_mig_bytes_transferred()`, `hw/vfio/migration.c`). */
  readonly vfioTransferredBytes?: number;
  /** `error-desc`: why a `failed` migration failed, when QEMU says. */
  readonly errorDesc?: string;
}

/** One QMP event (`MIGRATION`, `MIGRATION_PASS`, `STOP`, `RESUME`, `VFIO_MIGRATION`, ...). */
export interface QmpEvent {
  /** QMP `timestamp` (seconds + microseconds) in ms. */
  readonly atMs: number;
  readonly line: number;
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** One migration read from a file: its polls in time order and its events. */
export interface QmpMigration {
  /** `<dir>/<file without extension>`, `#2`, `#3`... for later migrations in one wire log. */
  readonly migrationId: string;
  readonly file: string;
  readonly polls: readonly QmpPoll[];
  readonly events: readonly QmpEvent[];
  /** `downtime-limit` from a `query-migrate-parameters` reply, when the log has one. */
  readonly downtimeLimitMs?: number;
  /** The governor's outcome and attempt, when `watch --drive` steered it (`governor-annotation.ts`). */
  readonly governor?: GovernorLog;
  /** What `watch` annotated about the VFIO devices of both QEMUs (`vfio-records.ts`), when the log has it. */
  readonly vfio?: VfioLog;
  /**
   * The source QEMU's version from the log's greeting or a `query-version` reply
   * (`qemu-version.ts`), when it has one; a `stack` annotation in `vfio` says more and wins.
   */
  readonly qemuVersion?: string;
  /**
   * `monotonic`: the times are a poll array's `t_monotonic` (seconds since some host boot), not
   * Unix time; anchor them ({@link anchorMonotonic}) before making records. Absent: Unix epoch.
   */
  readonly clock?: 'monotonic';
}
