/**
 * Reads of the store for analysis (stats, report): the arc scan with analysis filters and the
 * outcomes narrowed by the device models and arcs their migrations ran.
 *
 * Written against the store's `Database` handle and `schema.ts`, like `store-records.ts`: a
 * million arcs are scanned as raw rows (integers for references and states, no join, no ORDER
 * BY) — better-sqlite3's named rows and the join of `queries.ts` `iterateArcs()` cost several
 * times more, and a report over 1 M arcs must build in ≤ 10 s (bench/report.ts). Names are
 * resolved afterwards from the small tables. Arcs are selected by `queries.ts`
 * {@link arcFilterWhere}, the one filter every arc query of the store uses.
 */
import type { AttemptRecord, OutcomeRecord } from '../records/records.js';
import { arcFilterWhere, prefixRange, type ArcFilter, type SqlWhere } from './queries.js';
import type { Store } from './store.js';

/** What to analyse; every field narrows, none means everything in the store. */
export interface AnalysisFilter extends Pick<ArcFilter, 'deviceModel' | 'arc' | 'migrationPrefix'> {
  /** Arcs started, outcomes decided at or after this time, ms (the store's clock). */
  readonly sinceMs?: number;
  /** Outcomes of this policy only (`governor`, `qemu`, ...); arcs are not narrowed by it. */
  readonly policy?: string;
}

/** One arc as scanned: `[modelRef, from, to, startedAtMs, latencyMs, stopCopyBytes, ok]`. */
export type ArcScanRow = readonly [modelRef: number, from: number, to: number, startedAtMs: number, latencyMs: number, stopCopyBytes: number, ok: 0 | 1];

/** The arc terms of an analysis filter (its policy narrows outcomes only). */
function arcWhere({ policy: _policy, ...arcs }: AnalysisFilter): SqlWhere {
  return arcFilterWhere(arcs);
}

function whereClause(terms: readonly string[]): string {
  const kept = terms.filter((t) => t !== '');
  return kept.length === 0 ? '' : `WHERE ${kept.join(' AND ')}`;
}

/** Arcs matching `filter` (served by the `arcs_by_model_arc` covering index: no table scan). */
export function countArcs(store: Store, filter: AnalysisFilter = {}): number {
  const w = arcWhere(filter);
  return (store.db.prepare(`SELECT count(*) FROM arcs a ${whereClause([w.sql])}`).pluck().get(...w.params) as number) ?? 0;
}

/** Streams the arcs matching `filter` in storage order, as raw rows (see {@link ArcScanRow}). */
export function scanArcs(store: Store, filter: AnalysisFilter = {}): IterableIterator<ArcScanRow> {
  const w = arcWhere(filter);
  const stmt = store.db
    .prepare(`SELECT a.model_ref, a.from_state, a.to_state, a.started_at_ms, a.latency_ms, a.stop_copy_bytes, a.ok FROM arcs a ${whereClause([w.sql])}`)
    .raw(true);
  return stmt.iterate(...w.params) as IterableIterator<ArcScanRow>;
}

/** `device_models` id → name. */
export function deviceModelNames(store: Store): Map<number, string> {
  return new Map(store.db.prepare('SELECT id, name FROM device_models').raw(true).all() as Array<[number, string]>);
}

interface OutcomeRow {
  migrationId: string;
  policy: string;
  deadlineMs: number;
  decidedAtMs: number;
  predictedBlackoutMs: number;
  actualBlackoutMs: number;
  met: number;
}

/**
 * WHERE terms of a per-(migration, policy) table aliased `alias` (joined with `migrations m`):
 * its policy, the `since` term given, the migration-id prefix, and migrations that ran an arc of
 * the device model / arc asked for.
 */
function policyRowTerms(
  filter: AnalysisFilter,
  alias: string,
  since: { readonly sql: string; readonly params: (sinceMs: number) => number[] },
): { terms: string[]; params: Array<string | number> } {
  const terms: string[] = [];
  const params: Array<string | number> = [];
  if (filter.policy !== undefined) {
    terms.push(`${alias}.policy = ?`);
    params.push(filter.policy);
  }
  if (filter.sinceMs !== undefined) {
    terms.push(since.sql);
    params.push(...since.params(filter.sinceMs));
  }
  if (filter.migrationPrefix !== undefined) {
    terms.push('m.migration_id >= ? AND m.migration_id < ?');
    params.push(...prefixRange(filter.migrationPrefix));
  }
  if (filter.deviceModel !== undefined || filter.arc !== undefined) {
    const { sinceMs: _decidedSince, migrationPrefix: _prefix, ...arcOnly } = filter;
    const w = arcFilterWhere(arcOnly);
    terms.push(`EXISTS (SELECT 1 FROM arcs a WHERE a.migration_ref = ${alias}.migration_ref AND ${w.sql})`);
    params.push(...w.params);
  }
  return { terms, params };
}

/**
 * Outcomes matching `filter`, by migration and decision time. A device-model or arc filter
 * keeps the outcomes of migrations that ran such an arc; `sinceMs` applies to the decision time.
 */
export function analysisOutcomes(store: Store, filter: AnalysisFilter = {}): OutcomeRecord[] {
  const { terms, params } = policyRowTerms(filter, 'o', { sql: 'o.decided_at_ms >= ?', params: (since) => [since] });
  const rows = store.db
    .prepare(
      `SELECT m.migration_id AS migrationId, o.policy, o.deadline_ms AS deadlineMs, o.decided_at_ms AS decidedAtMs,
              o.predicted_blackout_ms AS predictedBlackoutMs, o.actual_blackout_ms AS actualBlackoutMs, o.met
         FROM outcomes o JOIN migrations m ON m.id = o.migration_ref
         ${whereClause(terms)}
        ORDER BY m.migration_id, o.decided_at_ms, o.policy`,
    )
    .all(...params) as OutcomeRow[];
  return rows.map((r) => ({ kind: 'outcome', ...r, met: r.met === 1 }));
}

/**
 * Attempts matching `filter`, by migration and policy. Filters as {@link analysisOutcomes};
 * an attempt has no decision time, so `sinceMs` keeps the attempts of migrations with RAM
 * progress or an outcome at or after it (every recorded attempt leaves a RAM poll).
 */
export function analysisAttempts(store: Store, filter: AnalysisFilter = {}): AttemptRecord[] {
  const { terms, params } = policyRowTerms(filter, 't', {
    sql: '(EXISTS (SELECT 1 FROM ram_progress r WHERE r.migration_ref = t.migration_ref AND r.at_ms >= ?) OR EXISTS (SELECT 1 FROM outcomes o WHERE o.migration_ref = t.migration_ref AND o.decided_at_ms >= ?))',
    params: (since) => [since, since],
  });
  const rows = store.db
    .prepare(
      `SELECT m.migration_id AS migrationId, t.policy, t.status, t.reason, t.deadline_ms AS deadlineMs,
              t.total_time_ms AS totalTimeMs, t.predicted_blackout_ms AS predictedBlackoutMs
         FROM attempts t JOIN migrations m ON m.id = t.migration_ref
         ${whereClause(terms)}
        ORDER BY m.migration_id, t.policy`,
    )
    .all(...params) as Array<Omit<AttemptRecord, 'kind' | 'predictedBlackoutMs'> & { predictedBlackoutMs: number | null }>;
  return rows.map(({ predictedBlackoutMs, ...r }) => ({ kind: 'attempt', ...r, ...(predictedBlackoutMs === null ? {} : { predictedBlackoutMs }) }));
}

/** Ids of the `limit` migrations with the most pre-copy passes (ties by id). */
export function mostPasses(store: Store, limit: number): string[] {
  return store.db
    .prepare(
      `SELECT m.migration_id FROM (SELECT migration_ref, count(DISTINCT pass) AS passes FROM ram_progress GROUP BY migration_ref) r
         JOIN migrations m ON m.id = r.migration_ref ORDER BY r.passes DESC, m.migration_id LIMIT ?`,
    )
    .pluck()
    .all(limit) as string[];
}
