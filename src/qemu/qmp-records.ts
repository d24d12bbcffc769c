/**
 * Turns one parsed QEMU migration into telemetry records (design.md "Telemetry records"), so
 * real QEMU data lands in the same store and estimators as the wrapper's own recordings.
 */
import type { AttemptRecord, AttemptStatus, OutcomeRecord, RamRecord, StackRecord, TelemetryRecord, TransferRecord } from '../records/records.js';
import { QEMU_DEFAULT_DOWNTIME_LIMIT_MS } from '../facts/qemu.js';
import { MIGRATION_FINAL_STATUSES } from './qapi-migration.js';
import type { QmpMigration, QmpPoll, QmpRamStats } from './qmp-types.js';
import { vfioRecords } from './vfio-records.js';

/**
 * x86 target page size, bytes: used only when a reply lacks `page-size` (QEMU < 2.10 did not
 * report it; `dirty-pages-rate` is in target pages).
 */
const FALLBACK_PAGE_SIZE_BYTES = 4096;

/** Pre-copy statuses whose polls describe the source while it still decides (`device` = stopping). */
const PRECOPY_POLL_STATUSES: ReadonlySet<string> = new Set(['active', 'device']);

/** The first `completed` poll that carries statistics (later ones may be bare `{"status"}`). */
export function completedPoll(m: Pick<QmpMigration, 'polls'>): (QmpPoll & { ram: QmpRamStats; downtimeMs: number }) | undefined {
  for (const p of m.polls) {
    // QEMU 7.2 can answer `completed` before it fills in the final statistics (total-time and
    // downtime 0; fixed upstream later): such a reply is not the migration's result.
    if (p.status === 'completed' && p.ram !== undefined && p.downtimeMs !== undefined && (p.totalTimeMs ?? 0) > 0) {
      return p as QmpPoll & { ram: QmpRamStats; downtimeMs: number };
    }
  }
  return undefined;
}

/** The last poll with status `active`: the last look before QEMU decided to switch over. */
export function lastActivePoll(m: QmpMigration): QmpPoll | undefined {
  for (let i = m.polls.length - 1; i >= 0; i--) {
    const p = m.polls[i];
    if (p !== undefined && p.status === 'active') return p;
  }
  return undefined;
}

/** QMP `dirty-pages-rate` × `page-size`, bytes/s. */
export function dirtyBytesPerS(ram: QmpRamStats): number {
  return (ram.dirtyPagesPerS ?? 0) * (ram.pageSizeBytes ?? FALLBACK_PAGE_SIZE_BYTES);
}

/** QMP `mbps` (Mbit/s, decimal: `migration_update_counters`) → bytes/s. */
export function mbpsToBytesPerS(mbps: number): number {
  return (mbps * 1e6) / 8;
}

/**
 * The `ram` record of one poll of migration `migrationId`, dated at the poll's host time: one
 * per `active`/`device` poll with statistics, none otherwise. {@link migrationToRecords} and
 * `vfio-sla watch` (poll by poll, as they arrive) both convert with this.
 */
export function ramRecordOf(migrationId: string, p: QmpPoll): RamRecord | undefined {
  if (!PRECOPY_POLL_STATUSES.has(p.status) || p.ram === undefined) return undefined;
  const r: { -readonly [K in keyof RamRecord]: RamRecord[K] } = {
    kind: 'ram',
    migrationId,
    atMs: p.atMs,
    pass: p.ram.dirtySyncCount ?? 0,
    remainingBytes: p.ram.remainingBytes,
    dirtyBytesPerS: dirtyBytesPerS(p.ram),
    bandwidthBytesPerS: mbpsToBytesPerS(p.ram.mbps ?? 0),
  };
  if (p.expectedDowntimeMs !== undefined) r.expectedDowntimeMs = p.expectedDowntimeMs;
  return r;
}

/** The `deviceId` of the transfers QEMU's `vfio.transferred` gives: every VFIO device of the VM together. */
export const VFIO_TRANSFER_DEVICE_ID = 'vfio';

/**
 * The VFIO devices' `transfer` pair from QEMU's `vfio.transferred` (5.2+, the sum over every VFIO
 * device of the bytes its save handlers wrote, `vfio_mig_bytes_transferred()`,
 * `hw/vfio/migration.c`): `precopy` = the count at the last `active` poll, `stopcopy` = what the
 * completed poll adds to it — the device state moved in the blackout (an upper bound by what was
 * sent between that poll and the stop, ≤ one 100 ms window), so that the blackout's bytes are
 * RAM's `downtime-bytes` (RAM only: `ram_transferred_add()`, `migration/ram.c`) plus these. None
 * when QEMU reports no `vfio` member (no VFIO device, or QEMU < 5.2). Durations as RAM's:
 * `stopcopyMs` the blackout's transfer (timed, or the whole downtime).
 */
function vfioTransfers(m: QmpMigration, done: QmpPoll, downtimeMs: number, stopcopyMs: number, totalTimeMs: number): TransferRecord[] {
  const total = done.vfioTransferredBytes;
  if (total === undefined) return [];
  const before = Math.min(total, lastActivePoll(m)?.vfioTransferredBytes ?? 0);
  const t = { kind: 'transfer', migrationId: m.migrationId, deviceId: VFIO_TRANSFER_DEVICE_ID } as const;
  return [
    { ...t, phase: 'precopy', bytes: before, durationMs: totalTimeMs - downtimeMs },
    { ...t, phase: 'stopcopy', bytes: total - before, durationMs: stopcopyMs },
  ];
}

/**
 * The `stack` records of a migration: each QEMU's version from the log's `stack` annotations, the
 * source's else from its greeting or `query-version` reply. None for a QEMU the log does not date.
 */
export function stackRecords(m: QmpMigration): StackRecord[] {
  const out: StackRecord[] = [];
  const source = m.vfio?.source.qemuVersion ?? m.qemuVersion;
  const destination = m.vfio?.destination.qemuVersion;
  if (source !== undefined) out.push({ kind: 'stack', migrationId: m.migrationId, side: 'source', qemuVersion: source });
  if (destination !== undefined) out.push({ kind: 'stack', migrationId: m.migrationId, side: 'destination', qemuVersion: destination });
  return out;
}

/**
 * Records for one migration:
 * - one `ram` record per `active`/`device` poll with statistics (`pass` = `dirty-sync-count`,
 *   dirty bytes/s = `dirty-pages-rate` × `page-size`, bandwidth = `mbps` × 10⁶ / 8);
 * - two `transfer` records for device `ram` from the completed poll: `stopcopy` =
 *   `downtime-bytes` over the blackout's transfer as the source's downtime checkpoints timed it
 *   (QEMU 8.2+ with `watch --vfio-trace`: `VfioTraceTracker.blackoutTransferMs`, `vfio-trace.ts`), else over the
 *   whole `downtime`; `precopy` = the rest of `transferred` over the rest of `total-time`
 *   (post-copy bytes, if any, fall in `precopy`: the contract has two phases), so the bytes sum
 *   to QEMU's `transferred`;
 * - two for device `vfio` from `vfio.transferred`, when QEMU reports it ({@link vfioTransfers});
 * - one `outcome` (policy `qemu`): actual = `downtime`, predicted = the last active poll's
 *   `expected-downtime` (else the deadline, which is where QEMU starts that estimate), deadline
 *   = `downtime-limit` if the log carried it else 300 ms, decided at the last active poll.
 * - the VFIO devices' `arc` records (`VFIO_MIGRATION` events of both QEMUs) and `size` records
 *   (QEMU's VFIO trace), see `vfio-records.ts` — also for a migration that did not complete;
 * - a `stack` record per QEMU whose version the log states ({@link stackRecords}) — also for a
 *   migration that did not complete;
 * - one `attempt` (policy `qemu`) when the log shows how the migration ended ({@link qemuAttemptRecord}),
 *   so that `stats` counts a failed or cancelled migration, and the total time of each;
 * - when `watch --drive` steered it (its `governor` annotation, `governor-annotation.ts`), the
 *   governor's `outcome` and `attempt` in place of QEMU's.
 * A migration that never completed yields no `transfer` or `outcome`. Times (`atMs`, `decidedAtMs`,
 * `startedAtMs`) are the host times of the polls and events: Unix-epoch ms, as record times are —
 * unless `m.clock` is `monotonic`; then anchor it first (`anchorMonotonic` in `qmp-log.ts`).
 */
export function migrationToRecords(m: QmpMigration): TelemetryRecord[] {
  const out: TelemetryRecord[] = stackRecords(m);
  const migrationId = m.migrationId;
  const vfio = vfioRecords(migrationId, m.events, m.vfio);
  out.push(...vfio.arcs, ...vfio.sizes);
  for (const p of m.polls) {
    const r = ramRecordOf(migrationId, p);
    if (r !== undefined) out.push(r);
  }
  const done = completedPoll(m);
  // A migration `watch --drive` steered: the governor's attempt and outcome, as `watch` stored them.
  const governed = m.governor;
  const attempt = governed?.attempt !== undefined ? { kind: 'attempt' as const, migrationId: m.migrationId, ...governed.attempt } : qemuAttemptRecord(m);
  if (done === undefined) {
    if (attempt !== undefined) out.push(attempt);
    return out;
  }
  const downtimeMs = done.downtimeMs;
  const totalTimeMs = done.totalTimeMs ?? downtimeMs;
  // The blackout's transfer timed apart when the source's downtime checkpoints were traced, else the whole downtime.
  const traced = vfio.blackoutTransferMs;
  const stopcopyMs = traced !== undefined && traced < downtimeMs ? traced : downtimeMs;
  if (done.ram.downtimeBytes !== undefined) {
    const stopcopyBytes = done.ram.downtimeBytes;
    const precopy: TransferRecord = {
      kind: 'transfer',
      migrationId,
      deviceId: 'ram',
      phase: 'precopy',
      bytes: done.ram.transferredBytes - stopcopyBytes,
      durationMs: totalTimeMs - downtimeMs,
    };
    const stopcopy: TransferRecord = {
      kind: 'transfer',
      migrationId,
      deviceId: 'ram',
      phase: 'stopcopy',
      bytes: stopcopyBytes,
      durationMs: stopcopyMs,
    };
    out.push(precopy, stopcopy);
  }
  out.push(...vfioTransfers(m, done, downtimeMs, stopcopyMs, totalTimeMs));
  const deadlineMs = m.downtimeLimitMs ?? QEMU_DEFAULT_DOWNTIME_LIMIT_MS;
  const last = lastActivePoll(m);
  const outcome: OutcomeRecord = {
    kind: 'outcome',
    migrationId,
    policy: 'qemu',
    deadlineMs,
    decidedAtMs: last?.atMs ?? done.atMs,
    predictedBlackoutMs: last?.expectedDowntimeMs ?? deadlineMs,
    actualBlackoutMs: downtimeMs,
    met: downtimeMs <= deadlineMs,
  };
  out.push(governed?.outcome !== undefined ? { kind: 'outcome', migrationId, ...governed.outcome } : outcome);
  if (attempt !== undefined) out.push(attempt);
  return out;
}

/** The `reason` of an attempt that QEMU's own rule switched over (`downtime-limit`, no governor). */
export const QEMU_RULE_REASON = "QEMU's own rule";
/** The `reason` of an attempt cancelled by someone other than `vfio-sla watch --drive`. */
export const CANCELLED_ELSEWHERE_REASON = 'cancelled by another QMP client or QEMU';
/** The `reason` of an attempt that QEMU reported `failed`, with QEMU's `error-desc` when it gave one. */
export function qemuFailedReason(errorDesc: string | undefined): string {
  return errorDesc === undefined ? 'failed in QEMU' : `failed in QEMU: ${errorDesc}`;
}

/**
 * The `attempt` record (policy `qemu`) of a migration whose end the log shows: the last poll's
 * or `MIGRATION` event's status once it is final — `completed`, `failed` or `cancelled` — and
 * undefined while the log ends with the migration still running (its end is unknown, and counting
 * it as any status would be a guess; `watch` does the same). Total time: QEMU's `total-time` of
 * the completed poll, else the first poll to the last. Deadline and predicted bound as the
 * `outcome`'s: `downtime-limit` (else QEMU's default) and the last active poll's
 * `expected-downtime`, when QEMU gave one.
 */
export function qemuAttemptRecord(m: QmpMigration): AttemptRecord | undefined {
  const status = endStatus(m);
  if (status === undefined) return undefined;
  const predicted = lastActivePoll(m)?.expectedDowntimeMs;
  return {
    kind: 'attempt',
    migrationId: m.migrationId,
    policy: 'qemu',
    status,
    reason: status === 'completed' ? QEMU_RULE_REASON : status === 'cancelled' ? CANCELLED_ELSEWHERE_REASON : qemuFailedReason(lastErrorDesc(m)),
    deadlineMs: m.downtimeLimitMs ?? QEMU_DEFAULT_DOWNTIME_LIMIT_MS,
    totalTimeMs: attemptTotalTimeMs(m),
    ...(predicted === undefined ? {} : { predictedBlackoutMs: predicted }),
  };
}

/** The last `error-desc` the migration's polls carried. */
function lastErrorDesc(m: QmpMigration): string | undefined {
  for (let i = m.polls.length - 1; i >= 0; i--) {
    const desc = m.polls[i]?.errorDesc;
    if (desc !== undefined) return desc;
  }
  return undefined;
}

/** An ended migration's total time, ms: QEMU's `total-time` once completed, else its first poll to its last. */
export function attemptTotalTimeMs(m: Pick<QmpMigration, 'polls'>): number {
  const qemuTotalMs = completedPoll(m)?.totalTimeMs;
  if (qemuTotalMs !== undefined && qemuTotalMs > 0) return qemuTotalMs;
  const first = m.polls[0];
  const last = m.polls[m.polls.length - 1];
  return first === undefined || last === undefined ? 0 : Math.max(0, last.atMs - first.atMs);
}

/** How the migration ended, from its last poll or `MIGRATION` event with a final status (each one an {@link AttemptStatus}); undefined while it runs. */
function endStatus(m: QmpMigration): AttemptStatus | undefined {
  const fromPoll = m.polls[m.polls.length - 1]?.status;
  if (fromPoll !== undefined && MIGRATION_FINAL_STATUSES.has(fromPoll)) return fromPoll as AttemptStatus;
  for (let i = m.events.length - 1; i >= 0; i--) {
    const e = m.events[i];
    if (e?.event !== 'MIGRATION') continue;
    const status = e.data['status'];
    return typeof status === 'string' && MIGRATION_FINAL_STATUSES.has(status) ? (status as AttemptStatus) : undefined;
  }
  return undefined;
}

