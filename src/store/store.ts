/**
 * The SQLite store: one better-sqlite3 connection to one WAL file (default `data/vfio-sla.db`).
 * Writes come as batches from the recording pipeline (one `BEGIN IMMEDIATE` transaction per
 * batch, prepared statements, `INSERT OR IGNORE` on stable record ids); reads are the typed
 * queries of `queries.ts`. Synchronous, as better-sqlite3 is: nothing here returns a Promise.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import type { BatchStore, BatchWriteResult, PipelineItem } from '../telemetry/batch-store.js';
import { deleteMigrationsByPrefix } from './delete-migrations.js';
import { StoreError } from './errors.js';
import { readableOrImmutable } from './read-only-open.js';
import { sqlite } from './sqlite.js';
import { fileKind } from '../files/output-target.js';
import { checkSchema, migrateSchema, schemaVersion, upgradeForReading } from './migrate.js';
import { SCHEMA_VERSION } from './schema.js';
import { RecordWriter } from './record-writer.js';

/** `data/vfio-sla.db` under `cwd`: the default database. */
export function defaultDbPath(cwd: string = process.cwd()): string {
  return join(cwd, 'data', 'vfio-sla.db');
}

/** Options of {@link openStore}. */
export interface StoreOptions {
  /**
   * Open for queries only: no writes — except that a database an older vfio-sla wrote is first
   * brought to the current schema, as any writable open would (`upgradeForReading`); one that
   * cannot be upgraded here is refused with `E_SCHEMA_OLDER`.
   */
  readonly readonly?: boolean;
  /**
   * How long one write waits for another connection's lock inside SQLite before failing with
   * `SQLITE_BUSY` (the pipeline then retries asynchronously), ms. Default 200.
   */
  readonly busyTimeoutMs?: number;
  /**
   * `normal` (default): WAL with `synchronous=NORMAL` — a commit survives the process being
   * killed (it is in the OS once `COMMIT` returns), the last commits may be lost on power
   * failure. `full`: `synchronous=FULL`, every commit fsynced.
   */
  readonly durability?: 'normal' | 'full';
  /** SQLite page cache, MiB. Default 32. */
  readonly cacheMiB?: number;
}

/** An open database. Implements the pipeline's {@link BatchStore}. */
export class Store implements BatchStore {
  /** The connection, for queries this module does not offer and for tests (e.g. fault injection). */
  readonly db: Database.Database;
  /**
   * True when a read-only store had to be opened `immutable` (read-only media without a -shm
   * file; read-only-open.ts): SQLite then assumes nobody changes the file while it is open.
   */
  readonly immutable: boolean;
  /** Prepared on the first write (a read-only store never prepares INSERTs). */
  private writer: { records: RecordWriter; txn: Database.Transaction<(items: readonly PipelineItem[]) => BatchWriteResult> } | undefined;

  private constructor(
    readonly path: string,
    options: StoreOptions,
  ) {
    const readonly = options.readonly ?? false;
    if (path !== ':memory:') refuseNonFile(path);
    if (!readonly && path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const Sqlite = sqlite(); // a missing better-sqlite3 is its own error, not a failed open
    const timeout = options.busyTimeoutMs ?? 200;
    try {
      this.db = new Sqlite(path, { readonly, fileMustExist: readonly, timeout });
    } catch (e) {
      throw new StoreError('E_STORE_OPEN', path, `cannot open database: ${(e as Error).message}`, { cause: e });
    }
    this.immutable = false;
    try {
      if (readonly) ({ db: this.db, immutable: this.immutable } = readableOrImmutable(Sqlite, this.db, path, timeout));
      this.db.pragma(`cache_size = ${-1024 * (options.cacheMiB ?? 32)}`);
      if (readonly) {
        // Only an older vfio-sla database costs a writable connection (closing one checkpoints the WAL).
        const version = schemaVersion(this.db);
        if (version >= 1 && version < SCHEMA_VERSION) upgradeForReading(path, options.busyTimeoutMs ?? 200);
        checkSchema(this.db, path);
      } else {
        refuseForeign(this.db, path); // before WAL mode: that alone would change their file
        this.db.pragma('journal_mode = WAL');
        this.db.pragma(`synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`);
        migrateSchema(this.db, path);
      }
    } catch (e) {
      this.db.close();
      throw e;
    }
  }

  /** Opens (creating and upgrading as needed) the database at `path`. */
  static open(path: string, options: StoreOptions = {}): Store {
    return new Store(path === ':memory:' ? path : resolve(path), options);
  }

  /**
   * Writes a batch in one `BEGIN IMMEDIATE` transaction: all of it or, on error, none of it.
   * Records whose stable id is already stored count as duplicates and change nothing.
   */
  writeBatch(items: readonly PipelineItem[]): BatchWriteResult {
    if (this.writer === undefined) {
      const records = new RecordWriter(this.db);
      this.writer = { records, txn: this.db.transaction((batch: readonly PipelineItem[]) => records.writeItems(batch)) };
    }
    try {
      return this.writer.txn.immediate(items);
    } catch (e) {
      // Rows inserted by the rolled-back transaction are gone: forget their cached ids.
      this.writer.records.forget();
      throw e;
    }
  }

  /**
   * Deletes the migrations whose id starts with `prefix` and all their records (see
   * `delete-migrations.ts`); returns how many migrations went.
   */
  deleteMigrations(prefix: string): number {
    const n = deleteMigrationsByPrefix(this.db, prefix);
    this.writer?.records.forget(); // the ids it cached may be gone
    return n;
  }

  /** Closes the connection (checkpointing the WAL when it is the last one). */
  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * A database path that exists must be a file (a link to one is fine): SQLite on a directory
 * says only "disk I/O error", and on `/dev/null` it leaves a `-journal` beside the device.
 */
function refuseNonFile(path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    return; // does not exist (yet): SQLite creates it, or says why not
  }
  if (!st.isFile()) throw new StoreError('E_STORE_OPEN', path, `is ${fileKind(st)}, not a database file`);
}

/**
 * A database with tables and no vfio-sla schema version is someone else's: adding our tables
 * (and WAL mode) to it would write over what is not ours.
 */
function refuseForeign(db: Database.Database, path: string): void {
  if (schemaVersion(db) !== 0) return;
  const names = db.prepare("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name LIMIT 4").pluck().all() as string[];
  if (names.length === 0) return;
  throw new StoreError('E_STORE_FOREIGN', path, `is not a vfio-sla database (it has ${names.join(', ')}${names.length === 4 ? ', …' : ''}); choose another --db`);
}

/** Opens the database at `path` (default {@link defaultDbPath}). Shorthand for `Store.open`. */
export function openStore(path: string = defaultDbPath(), options: StoreOptions = {}): Store {
  return Store.open(path, options);
}
