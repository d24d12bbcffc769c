/**
 * The span of time a store's records cover: what to tell someone whose `--since` matched
 * nothing (a store of 1970-dated records from before times were Unix time, a typo in a date).
 */
import type { Store } from './store.js';

/** First and last record time in the store, Unix-epoch ms. */
export interface StoreDateRange {
  readonly firstMs: number;
  readonly lastMs: number;
}

// Every time column a filter may compare: arc starts, size and RAM polls, decisions.
const TIMES = [
  ['arcs', 'started_at_ms'],
  ['sizes', 'at_ms'],
  ['ram_progress', 'at_ms'],
  ['outcomes', 'decided_at_ms'],
] as const;

/** The store's date range; null when it holds no timed record. Scans the tables: for the no-match path, not a hot one. */
export function storeDateRange(store: Store): StoreDateRange | null {
  const parts = TIMES.map(([table, column]) => `SELECT min(${column}) AS lo, max(${column}) AS hi FROM ${table}`).join(' UNION ALL ');
  const row = store.db.prepare(`SELECT min(lo) AS firstMs, max(hi) AS lastMs FROM (${parts})`).get() as { firstMs: number | null; lastMs: number | null };
  return row.firstMs === null || row.lastMs === null ? null : { firstMs: row.firstMs, lastMs: row.lastMs };
}
