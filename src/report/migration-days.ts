/**
 * Each migration's day for the Parquet export's partitions (`export-schema.ts`): the UTC day of
 * its first arc, else of its first outcome, size poll or RAM poll, else day 0 — found from the
 * rows as the export reads them, tables in that order, rather than by a query of its own (four
 * correlated subqueries per migration cost 0.3–0.4 s of the 1 M-arc export). A migration is
 * settled by the first of those tables that has rows of it, so each table's rows can be written
 * as soon as that table is read.
 */
import { MAX_TIME_MS } from '../telemetry/validate.js';

const DAY_MS = 86_400_000;

/** The store tables that date a migration, first first, and the column of each that does. */
export const DATING_COLUMNS = [
  ['arcs', 'started_at_ms'],
  ['outcomes', 'decided_at_ms'],
  ['sizes', 'at_ms'],
  ['ram_progress', 'at_ms'],
] as const;

/** Days of migrations by id (`migrations.id`, small dense integers). */
export class MigrationDays {
  /** Earliest time seen of each migration not settled yet, ms; NaN: none. */
  private readonly first: Float64Array;
  private readonly settled: Uint8Array;
  private readonly fromDay: number;
  /** Migrations left out: first time past the year 9999 (a bad stored record). */
  readonly outOfRange: number[] = [];
  /** Migrations exported (settled, from `sinceMs`'s day on, in range). */
  size = 0;

  /** `exists[id]`: a migration of that id is in the store. `sinceMs`: days before its day are left out. */
  constructor(private readonly exists: ArrayLike<unknown>, sinceMs?: number) {
    this.first = new Float64Array(exists.length).fill(Number.NaN);
    this.settled = new Uint8Array(exists.length);
    this.fromDay = sinceMs === undefined ? -Infinity : Math.floor(sinceMs / DAY_MS);
  }

  /** Notes rows' migrations and times, of the dating table being read (earlier tables settled first). */
  observe(migrations: Float64Array, timesMs: Float64Array): void {
    const { first, settled } = this;
    for (let i = 0; i < migrations.length; i++) {
      const id = migrations[i] as number;
      if (settled[id] !== 0 || id >= first.length) continue;
      const t = timesMs[i] as number;
      if (!(t >= (first[id] as number))) first[id] = t; // NaN (none yet) compares false
    }
  }

  /**
   * Settles every migration observed since the last call — and with `rest`, every other one
   * (day 0) — and returns those to export as `[ids, days]` (days since 1970-01-01 UTC).
   */
  settle(rest: boolean): [Float64Array, Float64Array] {
    const ids: number[] = [];
    const days: number[] = [];
    for (let id = 0; id < this.first.length; id++) {
      if (this.settled[id] !== 0 || this.exists[id] === undefined) continue;
      let t0 = this.first[id] as number;
      if (Number.isNaN(t0)) {
        if (!rest) continue;
        t0 = 0;
      }
      this.settled[id] = 1;
      // A time past any clock (stored before validation bounded it) would be a partition like
      // day=318857-05-20: leave the migration out and say so, the rest still exports.
      if (!(t0 <= MAX_TIME_MS)) {
        this.outOfRange.push(id);
        continue;
      }
      const day = Math.floor(t0 / DAY_MS);
      if (day < this.fromDay) continue;
      ids.push(id);
      days.push(day);
    }
    this.size += ids.length;
    return [Float64Array.from(ids), Float64Array.from(days)];
  }
}
