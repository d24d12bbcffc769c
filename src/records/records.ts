/**
 * Telemetry records: the JSON-lines contract of `shared/specs/design.md` ("Telemetry records").
 * One object per line, `kind` first. Points in time (`startedAtMs`, `atMs`, `decidedAtMs`) are
 * Unix-epoch milliseconds (float), durations milliseconds, sizes bytes (integer): the simulator
 * dates its virtual time from the wall time of its run, the QMP importer takes QEMU's event
 * timestamps and the replies' `ts`.
 * These shapes are relied on by stored data and by VMM integrations: keep them stable.
 */

export interface ArcRecord {
  readonly kind: 'arc';
  readonly migrationId: string;
  readonly deviceId: string;
  readonly deviceModel: string;
  /** State names, e.g. `RUNNING_P2P`. */
  readonly from: string;
  readonly to: string;
  readonly startedAtMs: number;
  readonly latencyMs: number;
  /** MIG_DATA_SIZE when the arc started. */
  readonly stopCopyBytes: number;
  readonly ok: boolean;
  readonly errno?: string;
  readonly deadlineMs?: number;
}

export interface SizeRecord {
  readonly kind: 'size';
  readonly migrationId: string;
  readonly deviceId: string;
  readonly atMs: number;
  readonly stopCopyBytes: number;
  readonly initialBytes?: number;
  readonly dirtyBytes?: number;
}

export interface TransferRecord {
  readonly kind: 'transfer';
  readonly migrationId: string;
  /** A device id, or `ram` for guest memory. */
  readonly deviceId: string;
  readonly phase: 'precopy' | 'stopcopy';
  readonly bytes: number;
  readonly durationMs: number;
  /**
   * The link the bytes crossed: a NIC name (`ens1f0`) or a class (`25G`, `100G-multifd`), as the
   * VMM names it; 1–128 characters. Absent: not said, fitted and predicted as link `default`.
   */
  readonly link?: string;
}

export interface RamRecord {
  readonly kind: 'ram';
  readonly migrationId: string;
  readonly atMs: number;
  /** Pre-copy pass (QEMU `dirty-sync-count`). */
  readonly pass: number;
  readonly remainingBytes: number;
  readonly dirtyBytesPerS: number;
  readonly bandwidthBytesPerS: number;
  /** QEMU's own `expected-downtime`, when known. */
  readonly expectedDowntimeMs?: number;
}

export interface OutcomeRecord {
  readonly kind: 'outcome';
  readonly migrationId: string;
  /** Who decided the switchover: `governor`, `qemu`, `kubevirt`, `oracle`, ... */
  readonly policy: string;
  readonly deadlineMs: number;
  readonly decidedAtMs: number;
  readonly predictedBlackoutMs: number;
  readonly actualBlackoutMs: number;
  readonly met: boolean;
}

/** How a migration attempt ended (`attempt` records). */
export type AttemptStatus = 'completed' | 'aborted' | 'cancelled' | 'failed';

/** Every status, in the order tables show them. */
export const ATTEMPT_STATUSES: readonly AttemptStatus[] = ['completed', 'aborted', 'cancelled', 'failed'];

/**
 * How one migration attempt ended, whatever the ending: one per (migration, policy), written
 * beside the `outcome` of a completed switchover and alone for one that never switched over — so
 * an abort is counted where a miss would be (`stats`, the report). Additive: a store without
 * them still reads its outcomes as before.
 * - `completed`: the VM runs on the destination (its `outcome` says whether the deadline held);
 * - `aborted`: the policy gave up, the VM runs on the source (e.g. `DEADLINE_UNREACHABLE`);
 * - `cancelled`: someone else stopped it (QMP `migrate_cancel`, the operator);
 * - `failed`: an error ended it (QEMU `failed`, a device needing reset).
 */
export interface AttemptRecord {
  readonly kind: 'attempt';
  readonly migrationId: string;
  readonly policy: string;
  readonly status: AttemptStatus;
  /** Why: the governor's decision reason (`FITS`, `DEADLINE_UNREACHABLE`, ...), a policy's words, an error. */
  readonly reason: string;
  readonly deadlineMs: number;
  /** Migration start to the VM running on the destination (completed) or to the end, ms. */
  readonly totalTimeMs: number;
  /** The predicted blackout bound at the last decision, ms; absent when no prediction was made. */
  readonly predictedBlackoutMs?: number;
}

/** Which VMM of a migration a `stack` record is about. */
export type StackSide = 'source' | 'destination';

/**
 * The software stack one side of a migration ran: the provenance every other record of the
 * migration (same `migrationId`) carries, since the meaning of its numbers depends on it — QEMU
 * 9.1 moved the source's `STOP_COPY → STOP` after the destination resumes, and QEMU 9.2 stopped
 * counting pre-copy bytes twice in the VFIO pending size (`estimators/stack.ts`). One per
 * (migration, side); a migration without one ran an unknown stack. Additive: stores written before
 * it read their migrations as of an unknown stack. The VFIO driver is the device model of each
 * device's arcs (`mlx5-cx7` is `mlx5_vfio_pci`), so it is not repeated here.
 */
export interface StackRecord {
  readonly kind: 'stack';
  readonly migrationId: string;
  readonly side: StackSide;
  /** QEMU's `query-version` (or QMP greeting) as `major.minor.micro`, e.g. `10.0.2`. */
  readonly qemuVersion: string;
}

export type TelemetryRecord = ArcRecord | SizeRecord | TransferRecord | RamRecord | OutcomeRecord | AttemptRecord | StackRecord;
export type RecordKind = TelemetryRecord['kind'];
export const RECORD_KINDS: readonly RecordKind[] = ['arc', 'size', 'transfer', 'ram', 'outcome', 'attempt', 'stack'];

/** Where a record came from, for error messages and the rejects table: `file:line` or a name. */
export interface RecordSource {
  readonly file?: string;
  readonly line?: number;
}

/**
 * Anything that accepts records: the recording pipeline, an in-memory array in tests.
 * `push` never blocks; the pipeline applies its own backpressure and error reporting.
 */
export interface RecordSink {
  push(record: TelemetryRecord, source?: RecordSource): void;
}
