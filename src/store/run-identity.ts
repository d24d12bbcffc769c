/**
 * Is the run stored under a migration id the run a QMP file holds? (see
 * `qemu/run-identity.ts`). The stored run is the same when every RAM poll, transfer and outcome
 * stored for the id is among the file's records — a re-import, or an import a crash cut short,
 * adds the rest; any stored row the file does not have means another run owns the id.
 */
import type { TelemetryRecord } from '../records/records.js';
import type { Store } from './store.js';

const ramKey = (atMs: number, remainingBytes: number): string => `${atMs}|${remainingBytes}`;
const transferKey = (deviceId: string, phase: string, bytes: number, durationMs: number): string => `${deviceId}|${phase}|${bytes}|${durationMs}`;
const outcomeKey = (policy: string, decidedAtMs: number, actualBlackoutMs: number): string => `${policy}|${decidedAtMs}|${actualBlackoutMs}`;

/**
 * The file (`migrations.source_file`, or `'an earlier import'` when unknown) of the run stored as
 * `migrationId` when it is not the run `records` describe; `undefined` when nothing is stored
 * under the id or the stored rows all belong to `records`.
 */
export function storedRunConflict(store: Store, migrationId: string, records: readonly TelemetryRecord[]): string | undefined {
  const row = store.db.prepare('SELECT id, source_file AS file FROM migrations WHERE migration_id = ?').get(migrationId) as
    | { id: number; file: string | null }
    | undefined;
  if (row === undefined) return undefined;
  const keys = new Set<string>();
  for (const r of records) {
    if (r.kind === 'ram') keys.add(ramKey(r.atMs, r.remainingBytes));
    else if (r.kind === 'transfer') keys.add(transferKey(r.deviceId, r.phase, r.bytes, r.durationMs));
    else if (r.kind === 'outcome') keys.add(outcomeKey(r.policy, r.decidedAtMs, r.actualBlackoutMs));
  }
  const stored = [
    ...(store.db.prepare('SELECT at_ms, remaining_bytes FROM ram_progress WHERE migration_ref = ?').raw(true).all(row.id) as [number, number][]).map(
      ([a, b]) => ramKey(a, b),
    ),
    ...(store.db.prepare('SELECT device_id, phase, bytes, duration_ms FROM transfers WHERE migration_ref = ?').raw(true).all(row.id) as [string, string, number, number][]).map(
      ([a, b, c, d]) => transferKey(a, b, c, d),
    ),
    ...(store.db.prepare('SELECT policy, decided_at_ms, actual_blackout_ms FROM outcomes WHERE migration_ref = ?').raw(true).all(row.id) as [string, number, number][]).map(
      ([a, b, c]) => outcomeKey(a, b, c),
    ),
  ];
  return stored.every((k) => keys.has(k)) ? undefined : (row.file ?? 'an earlier import');
}

/** The times of the RAM polls stored under `migrationId`, ascending (empty when none). */
export function storedRamAtMs(store: Store, migrationId: string): number[] {
  return store.db
    .prepare('SELECT r.at_ms FROM ram_progress r JOIN migrations m ON m.id = r.migration_ref WHERE m.migration_id = ? ORDER BY r.at_ms')
    .pluck()
    .all(migrationId) as number[];
}

/** True when a migration with this id is stored (any of its records). */
export function migrationExists(store: Store, migrationId: string): boolean {
  return store.db.prepare('SELECT 1 FROM migrations WHERE migration_id = ?').pluck().get(migrationId) !== undefined;
}
