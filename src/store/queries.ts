/**
 * Typed reads of the store for the estimators' fit, the report and the CLI. Synchronous, as
 * better-sqlite3 is; the big one ({@link iterateArcs}) streams rows with `.iterate()` so a
 * million arcs never sit in memory at once. Records come back in their contract shapes
 * (`ArcRecord`, `RamRecord`, ...), optional fields absent when NULL.
 */
import type Database from 'better-sqlite3';
import { arcKey, parseStateName, stateName, type MigState } from '../fsm/index.js';
import type { ArcRecord, AttemptRecord, OutcomeRecord, RamRecord, SizeRecord, TransferRecord } from '../records/records.js';
import type { Store } from './store.js';

/** Which arcs {@link iterateArcs} yields; every field narrows, none means all. */
export interface ArcFilter {
  readonly deviceModel?: string;
  /** Arc key, `"PRE_COPY_P2P>STOP_COPY"`. */
  readonly arc?: string;
  /** Arcs started at or after this time, ms. */
  readonly sinceMs?: number;
  /** Arcs started before this time, ms. */
  readonly untilMs?: number;
  readonly migrationId?: string;
  /** Arcs of migrations whose id starts with this (`demo/s1/heldout/`). */
  readonly migrationPrefix?: string;
  /** Only arcs that completed (`ok`). */
  readonly okOnly?: boolean;
}

/** Cached statements per connection and SQL text (filters build a few distinct texts). */
const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

function prepared(db: Database.Database, sql: string): Database.Statement {
  let byText = statements.get(db);
  if (byText === undefined) {
    byText = new Map();
    statements.set(db, byText);
  }
  let stmt = byText.get(sql);
  if (stmt === undefined) {
    stmt = db.prepare(sql);
    byText.set(sql, stmt);
  }
  return stmt;
}

/** Splits an arc key into its states; throws `RangeError` naming the key when it is not one. */
export function parseArcKey(key: string): readonly [MigState, MigState] {
  const [a, b, extra] = key.split('>');
  const from = a === undefined ? undefined : parseStateName(a);
  const to = b === undefined ? undefined : parseStateName(b);
  if (from === undefined || to === undefined || extra !== undefined) {
    throw new RangeError(`not an arc key (FROM>TO state names): ${JSON.stringify(key)}`);
  }
  return [from, to];
}

interface ArcRow {
  migrationId: string;
  deviceId: string;
  deviceModel: string;
  fromState: number;
  toState: number;
  startedAtMs: number;
  latencyMs: number;
  stopCopyBytes: number;
  ok: number;
  errno: string | null;
  deadlineMs: number | null;
}

function toArc(r: ArcRow): ArcRecord {
  const out: { -readonly [K in keyof ArcRecord]: ArcRecord[K] } = {
    kind: 'arc',
    migrationId: r.migrationId,
    deviceId: r.deviceId,
    deviceModel: r.deviceModel,
    from: stateName(r.fromState as MigState),
    to: stateName(r.toState as MigState),
    startedAtMs: r.startedAtMs,
    latencyMs: r.latencyMs,
    stopCopyBytes: r.stopCopyBytes,
    ok: r.ok === 1,
  };
  if (r.errno !== null) out.errno = r.errno;
  if (r.deadlineMs !== null) out.deadlineMs = r.deadlineMs;
  return out;
}

/**
 * `[low, high)` of the ids starting with `prefix` under SQLite's BINARY (UTF-8 byte) order, so the
 * UNIQUE index on `migrations.migration_id` serves the range: no UTF-8 sequence sorts above U+10FFFF.
 */
export function prefixRange(prefix: string): [string, string] {
  return [prefix, `${prefix}\u{10FFFF}`];
}

/** SQL terms (joined with AND, empty when none) and parameters of an {@link ArcFilter}. */
export interface SqlWhere {
  readonly sql: string;
  readonly params: ReadonlyArray<string | number>;
}

/**
 * The WHERE terms of `filter` on the `arcs` table aliased `a`, for queries beyond
 * {@link iterateArcs} (reports, exports) that must select the same arcs.
 */
export function arcFilterWhere(filter: ArcFilter): SqlWhere {
  const where: string[] = [];
  const params: Array<string | number> = [];
  if (filter.deviceModel !== undefined) {
    where.push('a.model_ref = (SELECT id FROM device_models WHERE name = ?)');
    params.push(filter.deviceModel);
  }
  if (filter.arc !== undefined) {
    const [from, to] = parseArcKey(filter.arc);
    where.push('a.from_state = ? AND a.to_state = ?');
    params.push(from, to);
  }
  if (filter.sinceMs !== undefined) {
    where.push('a.started_at_ms >= ?');
    params.push(filter.sinceMs);
  }
  if (filter.untilMs !== undefined) {
    where.push('a.started_at_ms < ?');
    params.push(filter.untilMs);
  }
  if (filter.migrationId !== undefined) {
    where.push('a.migration_ref = (SELECT id FROM migrations WHERE migration_id = ?)');
    params.push(filter.migrationId);
  }
  if (filter.migrationPrefix !== undefined) {
    where.push('a.migration_ref IN (SELECT id FROM migrations WHERE migration_id >= ? AND migration_id < ?)');
    params.push(...prefixRange(filter.migrationPrefix));
  }
  if (filter.okOnly === true) where.push('a.ok = 1');
  return { sql: where.join(' AND '), params };
}

/**
 * Streams the arcs matching `filter`, ordered by (device model, arc, start time) — the
 * `arcs_by_model_arc` index — or by start time within one migration.
 */
export function* iterateArcs(store: Store, filter: ArcFilter = {}): Generator<ArcRecord> {
  const where = arcFilterWhere(filter);
  // Rows of one migration come from the primary key; otherwise the (model, arc, time) index.
  const order = filter.migrationId !== undefined ? 'a.started_at_ms, d.device_id' : 'a.model_ref, a.from_state, a.to_state, a.started_at_ms';
  const sql = `SELECT m.migration_id AS migrationId, d.device_id AS deviceId, dm.name AS deviceModel,
      a.from_state AS fromState, a.to_state AS toState, a.started_at_ms AS startedAtMs, a.latency_ms AS latencyMs,
      a.stop_copy_bytes AS stopCopyBytes, a.ok, a.errno, a.deadline_ms AS deadlineMs
    FROM arcs a
    JOIN migrations m ON m.id = a.migration_ref
    JOIN devices d ON d.id = a.device_ref
    JOIN device_models dm ON dm.id = a.model_ref
    ${where.sql.length > 0 ? `WHERE ${where.sql}` : ''} ORDER BY ${order}`;
  for (const row of prepared(store.db, sql).iterate(...where.params)) yield toArc(row as ArcRow);
}

/** One (device model, arc) with data: what the estimators fit one line to. */
export interface ArcGroup {
  readonly deviceModel: string;
  readonly arc: string;
  readonly n: number;
  readonly okN: number;
}

/** Every (device model, arc) present, with sample counts (served by the index, no table scan). */
export function arcGroups(store: Store): ArcGroup[] {
  const rows = prepared(
    store.db,
    `SELECT dm.name AS deviceModel, g.f, g.t, g.n, g.okN
       FROM (SELECT model_ref, from_state AS f, to_state AS t, count(*) AS n, sum(ok) AS okN
               FROM arcs GROUP BY model_ref, from_state, to_state) g
       JOIN device_models dm ON dm.id = g.model_ref
      ORDER BY dm.name, g.f, g.t`,
  ).all() as Array<{ deviceModel: string; f: number; t: number; n: number; okN: number }>;
  return rows.map((r) => ({ deviceModel: r.deviceModel, arc: arcKey(r.f as MigState, r.t as MigState), n: r.n, okN: r.okN }));
}

/** Transfers, optionally of one phase (`stopcopy` for blackout throughput) or one device. */
export function transfers(
  store: Store,
  filter: { readonly phase?: TransferRecord['phase']; readonly deviceId?: string; readonly migrationId?: string } = {},
): TransferRecord[] {
  const rows = prepared(
    store.db,
    `SELECT m.migration_id AS migrationId, t.device_id AS deviceId, t.phase, t.bytes, t.duration_ms AS durationMs, t.link
       FROM transfers t JOIN migrations m ON m.id = t.migration_ref
      WHERE (@phase IS NULL OR t.phase = @phase) AND (@deviceId IS NULL OR t.device_id = @deviceId)
        AND (@migrationId IS NULL OR m.migration_id = @migrationId)
      ORDER BY m.migration_id, t.device_id, t.phase`,
  ).all({ phase: filter.phase ?? null, deviceId: filter.deviceId ?? null, migrationId: filter.migrationId ?? null }) as Array<
    Omit<TransferRecord, 'kind' | 'link'> & { link: string | null }
  >;
  return rows.map(({ link, ...r }) => (link === null ? { kind: 'transfer', ...r } : { kind: 'transfer', ...r, link }));
}

/** The RAM progress of one migration, in time order. */
export function ramProgress(store: Store, migrationId: string): RamRecord[] {
  const rows = prepared(
    store.db,
    `SELECT r.at_ms AS atMs, r.pass, r.remaining_bytes AS remainingBytes, r.dirty_bytes_per_s AS dirtyBytesPerS,
            r.bandwidth_bytes_per_s AS bandwidthBytesPerS, r.expected_downtime_ms AS expectedDowntimeMs
       FROM ram_progress r WHERE r.migration_ref = (SELECT id FROM migrations WHERE migration_id = ?) ORDER BY r.at_ms`,
  ).all(migrationId) as Array<Omit<RamRecord, 'kind' | 'migrationId' | 'expectedDowntimeMs'> & { expectedDowntimeMs: number | null }>;
  return rows.map(({ expectedDowntimeMs, ...r }) =>
    expectedDowntimeMs === null ? { kind: 'ram', migrationId, ...r } : { kind: 'ram', migrationId, ...r, expectedDowntimeMs },
  );
}

/** Size polls of one migration (all devices), in time order. */
export function sizes(store: Store, migrationId: string): SizeRecord[] {
  const rows = prepared(
    store.db,
    `SELECT d.device_id AS deviceId, s.at_ms AS atMs, s.stop_copy_bytes AS stopCopyBytes,
            s.initial_bytes AS initialBytes, s.dirty_bytes AS dirtyBytes
       FROM sizes s JOIN devices d ON d.id = s.device_ref
      WHERE s.migration_ref = (SELECT id FROM migrations WHERE migration_id = ?) ORDER BY s.at_ms, d.device_id`,
  ).all(migrationId) as Array<{ deviceId: string; atMs: number; stopCopyBytes: number; initialBytes: number | null; dirtyBytes: number | null }>;
  return rows.map((r) => {
    const out: { -readonly [K in keyof SizeRecord]: SizeRecord[K] } = { kind: 'size', migrationId, deviceId: r.deviceId, atMs: r.atMs, stopCopyBytes: r.stopCopyBytes };
    if (r.initialBytes !== null) out.initialBytes = r.initialBytes;
    if (r.dirtyBytes !== null) out.dirtyBytes = r.dirtyBytes;
    return out;
  });
}

/** Outcomes, optionally of one policy (`governor`, `qemu`, ...), by migration and decision time. */
export function outcomes(store: Store, filter: { readonly policy?: string; readonly migrationId?: string } = {}): OutcomeRecord[] {
  const rows = prepared(
    store.db,
    `SELECT m.migration_id AS migrationId, o.policy, o.deadline_ms AS deadlineMs, o.decided_at_ms AS decidedAtMs,
            o.predicted_blackout_ms AS predictedBlackoutMs, o.actual_blackout_ms AS actualBlackoutMs, o.met
       FROM outcomes o JOIN migrations m ON m.id = o.migration_ref
      WHERE (@policy IS NULL OR o.policy = @policy) AND (@migrationId IS NULL OR m.migration_id = @migrationId)
      ORDER BY m.migration_id, o.decided_at_ms`,
  ).all({ policy: filter.policy ?? null, migrationId: filter.migrationId ?? null }) as Array<Omit<OutcomeRecord, 'kind' | 'met'> & { met: number }>;
  return rows.map((r) => ({ kind: 'outcome', ...r, met: r.met === 1 }));
}

/** Attempts (how each migration ended), optionally of one policy, by migration. */
export function attempts(store: Store, filter: { readonly policy?: string; readonly migrationId?: string } = {}): AttemptRecord[] {
  const rows = prepared(
    store.db,
    `SELECT m.migration_id AS migrationId, a.policy, a.status, a.reason, a.deadline_ms AS deadlineMs,
            a.total_time_ms AS totalTimeMs, a.predicted_blackout_ms AS predictedBlackoutMs
       FROM attempts a JOIN migrations m ON m.id = a.migration_ref
      WHERE (@policy IS NULL OR a.policy = @policy) AND (@migrationId IS NULL OR m.migration_id = @migrationId)
      ORDER BY m.migration_id, a.policy`,
  ).all({ policy: filter.policy ?? null, migrationId: filter.migrationId ?? null }) as Array<Omit<AttemptRecord, 'kind' | 'predictedBlackoutMs'> & { predictedBlackoutMs: number | null }>;
  return rows.map(({ predictedBlackoutMs, ...r }) => ({ kind: 'attempt', ...r, ...(predictedBlackoutMs === null ? {} : { predictedBlackoutMs }) }));
}
