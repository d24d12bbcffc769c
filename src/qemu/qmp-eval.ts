/**
 * Which real QEMU migrations can test a pre-copy blackout predictor, decided from the QMP data
 * alone (no scenario names), so `vfio-sla eval` works on migrations from any host:
 * - post-copy: a `postcopy-*` status or `postcopy-bytes` > 0 — QEMU's `downtime` is then only
 *   the switch; the guest runs on with remote page faults (published-numbers.md §8.1);
 * - VM already paused: `downtime-bytes` > 0 while still `active` (QEMU counts bytes sent while
 *   the guest is stopped as downtime bytes, `migration/ram.c`), or a `STOP` event before the
 *   first pre-copy poll — QEMU's `downtime` then leaves out the time it was paused
 *   (`Stop_Copy_4T`: 11 ms reported vs ≈ 14.4 s of real interruption);
 * - never completed, or no `active` poll before the switchover to predict from.
 */
import type { TelemetryRecord } from '../records/records.js';
import { NEVER_COMPLETED, parseQmpLog, type QmpLogError } from './qmp-log.js';
import { completedPoll, lastActivePoll, migrationToRecords } from './qmp-records.js';
import type { QmpMigration } from './qmp-types.js';
import { RunIdentities, runCollisionReason } from './run-identity.js';

/** Why a migration was left out of a pre-copy evaluation; undefined when it is in. */
export function precopyExclusion(m: QmpMigration): string | undefined {
  const done = completedPoll(m);
  if (done === undefined) return `${NEVER_COMPLETED} (no completed query-migrate with statistics)`;
  const postcopy = m.polls.some((p) => p.status.startsWith('postcopy')) || (done.ram.postcopyBytes ?? 0) > 0;
  if (postcopy) return 'post-copy: QEMU downtime covers only the switch, the guest then runs on remote page faults';
  const firstActive = m.polls.find((p) => p.status === 'active');
  if (firstActive === undefined || lastActivePoll(m)?.ram === undefined) return 'no active query-migrate poll before the switchover to predict from';
  const pausedBytes = m.polls.some((p) => p.status === 'active' && (p.ram?.downtimeBytes ?? 0) > 0);
  const stoppedFirst = m.events.some((e) => e.event === 'STOP' && e.atMs < firstActive.atMs);
  if (pausedBytes || stoppedFirst) return 'VM already paused before the switchover: QEMU downtime leaves out the time it was paused';
  return undefined;
}

/** A migration left out of the evaluation, and why. */
export interface ExcludedMigration {
  readonly migrationId: string;
  readonly reason: string;
}

/** Everything `vfio-sla eval` needs from a set of QMP files. */
export interface QmpEvalInput {
  /** Pre-copy migrations as telemetry records, in file order. */
  readonly cases: { readonly migrationId: string; readonly records: TelemetryRecord[] }[];
  readonly excluded: ExcludedMigration[];
  /** Lines that could not be read (the rest of each file still was). */
  readonly errors: QmpLogError[];
  /** Migrations left out because a different run in another file has their id (both named). */
  readonly collisions: QmpLogError[];
}

/**
 * Parses QMP files (either form) and splits their migrations into pre-copy evaluation cases and
 * exclusions with reasons. Pure: the caller reads the files.
 */
export function qmpEvalInput(files: readonly { readonly file: string; readonly text: string }[]): QmpEvalInput {
  const cases: QmpEvalInput['cases'] = [];
  const excluded: ExcludedMigration[] = [];
  const errors: QmpLogError[] = [];
  const collisions: QmpLogError[] = [];
  const runs = new RunIdentities();
  for (const { file, text } of files) {
    const parsed = parseQmpLog(text, file);
    // A migration that never completed is listed as excluded, not as an unreadable line.
    for (const e of parsed.errors) if (!e.reason.includes(NEVER_COMPLETED)) errors.push(e);
    for (const m of parsed.migrations) {
      const records = migrationToRecords(m);
      // Two runs under one id would be learned from as one migration: neither a merge nor a silent pick.
      const claim = runs.claim(m.migrationId, file, records);
      if (claim === 'same') continue;
      if (claim !== 'new') {
        collisions.push({ file, line: m.polls[0]?.line ?? 1, reason: runCollisionReason(m.migrationId, file, claim.otherFile) });
        continue;
      }
      const reason = precopyExclusion(m);
      if (reason === undefined) cases.push({ migrationId: m.migrationId, records });
      else excluded.push({ migrationId: m.migrationId, reason });
    }
  }
  return { cases, excluded, errors, collisions };
}
