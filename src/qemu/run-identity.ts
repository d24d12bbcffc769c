/**
 * Which QEMU run a migration id stands for. The QMP importers name a migration after its file
 * (`<parent folder>/<file stem>`, {@link migrationIdFromPath}), so two different runs can get
 * one id — `hostA/Precopy_Convergent/mig-stats-run-1.json` and `hostB/…/mig-stats-run-1.json`
 * are both `Precopy_Convergent/mig-stats-run-1`. What tells the runs apart is their content:
 * a digest of the records a run yields (QEMU's own poll times and counters). The same content
 * under one id is one run (re-import, a copy of the file: idempotent); different content under
 * one id is a collision, reported with both files and never merged.
 */
import { createHash } from 'node:crypto';
import type { TelemetryRecord } from '../records/records.js';

/** A digest of a run's records (sha256 of their JSON, hex), the same for the same content. */
export function runDigest(records: readonly TelemetryRecord[]): string {
  const h = createHash('sha256');
  for (const r of records) h.update(JSON.stringify(r)).update('\n');
  return h.digest('hex');
}

/** The reason of the reject (or error) for a migration whose id another run already has. */
export function runCollisionReason(migrationId: string, file: string, otherFile: string): string {
  return (
    `migration id '${migrationId}' of ${file} is already the id of a different run from ${otherFile}: ` +
    'not merged (the two files hold different runs; give one of them a folder or file name of its own)'
  );
}

/** The migration ids of one import or evaluation, with the file and digest that claimed each. */
export class RunIdentities {
  private readonly claimed = new Map<string, { readonly file: string; readonly digest: string }>();

  /**
   * Claims `migrationId` for the run `records` from `file`. Returns `'new'` the first time,
   * `'same'` when the same content claimed it before (a file given twice, or a copy), and the
   * other file when a different run did.
   */
  claim(migrationId: string, file: string, records: readonly TelemetryRecord[]): 'new' | 'same' | { readonly otherFile: string } {
    const digest = runDigest(records);
    const before = this.claimed.get(migrationId);
    if (before === undefined) {
      this.claimed.set(migrationId, { file, digest });
      return 'new';
    }
    return before.digest === digest ? 'same' : { otherFile: before.file };
  }
}
