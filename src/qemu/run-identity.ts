/**
 * Which QEMU run a migration id stands for. The QMP importers name a migration after its file
 * (`<parent folder>/<file stem>`, {@link migrationIdFromPath}), so two different runs can get
 * one id — `hostA/Precopy_Convergent/mig-stats-run-1.json` and `hostB/…/mig-stats-run-1.json`
 * are both `Precopy_Convergent/mig-stats-run-1`. What tells the runs apart is their content:
 * a digest of the records a run yields (QEMU's own poll times and counters). The same content
 * under one id is one run (re-import, a copy of the file: idempotent); different content under
 * one id is a collision, reported with both files and never merged.
 *
 * A poll array with only monotonic times is dated by its file's modification time
 * (`anchorMonotonic`), which a copy does not keep: its identity is its content before dating, and
 * a copy is dated as the run already imported was ({@link RunIdentities.datingOf}, and
 * {@link realignToStored} for a run stored by an earlier import), so it adds nothing.
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
  private readonly claimed = new Map<string, { readonly file: string; readonly digest: string; dating: RunDating | undefined }>();

  /**
   * Claims `migrationId` for the run `records` (its content, before any dating) from `file`,
   * dated by `dating` when it has only monotonic times. Returns `'new'` the first time, `'same'`
   * when the same content claimed it before (a file given twice, or a copy), and the other file
   * when a different run did.
   */
  claim(migrationId: string, file: string, records: readonly TelemetryRecord[], dating?: RunDating): 'new' | 'same' | { readonly otherFile: string } {
    const digest = runDigest(records);
    const before = this.claimed.get(migrationId);
    if (before === undefined) {
      this.claimed.set(migrationId, { file, digest, dating });
      return 'new';
    }
    return before.digest === digest ? 'same' : { otherFile: before.file };
  }

  /** How the first claim of `migrationId` was dated (see {@link claim}, {@link redate}); undefined when it was not. */
  datingOf(migrationId: string): RunDating | undefined {
    return this.claimed.get(migrationId)?.dating;
  }

  /** The first claim of `migrationId` was dated otherwise in the end (as the stored run was). */
  redate(migrationId: string, dating: RunDating): void {
    const c = this.claimed.get(migrationId);
    if (c !== undefined) c.dating = dating;
  }
}

/**
 * How a run with only monotonic times was dated: its last poll at `anchorMs` (the file's
 * modification time), and then, when a copy of it was stored before, its RAM polls at the stored
 * times ({@link realignToStored}).
 */
export interface RunDating {
  readonly anchorMs: number;
  readonly storedRamAtMs?: readonly number[];
}

/**
 * `records` (one run with only monotonic times, dated at some anchor, its `ram` records in poll
 * order as `migrationToRecords` makes them) dated instead as the run stored under the same id
 * was: the i-th `ram` record takes the i-th stored RAM poll time `storedRamAtMs` (ascending), and
 * an `outcome` decided at a RAM poll takes that poll's stored time. Undefined when the counts
 * differ (then it is not the stored run, or a part of it). The caller still checks the result
 * against the store: this only dates, it judges nothing.
 */
export function realignToStored(records: readonly TelemetryRecord[], storedRamAtMs: readonly number[]): TelemetryRecord[] | undefined {
  const ramCount = records.reduce((n, r) => n + (r.kind === 'ram' ? 1 : 0), 0);
  if (ramCount === 0 || ramCount !== storedRamAtMs.length) return undefined;
  const to = new Map<number, number>();
  let i = 0;
  const ramDated = records.map((r) => {
    if (r.kind !== 'ram') return r;
    const atMs = storedRamAtMs[i++] as number;
    to.set(r.atMs, atMs);
    return { ...r, atMs };
  });
  return ramDated.map((r) => (r.kind === 'outcome' && to.has(r.decidedAtMs) ? { ...r, decidedAtMs: to.get(r.decidedAtMs) as number } : r));
}
