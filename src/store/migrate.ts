/**
 * Forward schema migrations keyed on `PRAGMA user_version`: an older database is upgraded step
 * by step when opened for writing; a newer one is refused (this code cannot know its meaning).
 */
import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';
import { sqlite } from './sqlite.js';
import { SCHEMA_STEPS, type SchemaStep } from './schema.js';

/** What {@link migrateSchema} did. */
export interface MigrationResult {
  readonly fromVersion: number;
  readonly toVersion: number;
}

/** `PRAGMA user_version` of an open database. */
export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings `db` to the last step's version. All steps run in one `BEGIN IMMEDIATE` transaction,
 * re-reading the version inside it, so two processes opening a new file at once cannot both
 * create the tables; a failing step leaves the database as it was. An up-to-date database is
 * only read.
 * @throws StoreError `E_SCHEMA_NEWER` when the file was written by a newer vfio-sla,
 *   `E_SCHEMA_MIGRATION` when a step fails.
 */
export function migrateSchema(db: Database.Database, file: string, steps: readonly SchemaStep[] = SCHEMA_STEPS): MigrationResult {
  const target = steps.length;
  // Up to date: no write lock needed (another process may be holding it right now).
  const seen = schemaVersion(db);
  if (seen === target) return { fromVersion: seen, toVersion: target };
  const upgrade = db.transaction((): MigrationResult => {
    const current = schemaVersion(db);
    if (current > target) {
      throw new StoreError(
        'E_SCHEMA_NEWER',
        file,
        `database schema version ${current} is newer than this vfio-sla supports (${target}); upgrade vfio-sla or use another --db`,
      );
    }
    for (const step of steps.slice(current)) {
      try {
        db.exec(step.sql);
      } catch (e) {
        throw new StoreError('E_SCHEMA_MIGRATION', file, `schema step to version ${step.version} (${step.description}) failed: ${(e as Error).message}`, { cause: e });
      }
      db.pragma(`user_version = ${step.version}`);
    }
    return { fromVersion: current, toVersion: target };
  });
  return upgrade.immediate();
}

/**
 * Before a read-only open: a database an older vfio-sla wrote (schema 1 ≤ v < current) is
 * upgraded through a short-lived writable connection, as opening it for writing would — the
 * steps only add (a nullable column, ...), so what was stored reads the same. A file at
 * version 0 (not a vfio-sla database, or empty) is left alone, and so is one this process may
 * not write: {@link checkSchema} then refuses it. Returns whether it upgraded.
 */
export function upgradeForReading(file: string, busyTimeoutMs: number, steps: readonly SchemaStep[] = SCHEMA_STEPS): boolean {
  let db: Database.Database;
  try {
    db = new (sqlite())(file, { fileMustExist: true, timeout: busyTimeoutMs });
  } catch {
    return false;
  }
  try {
    const current = schemaVersion(db);
    if (current < 1 || current >= steps.length) return false;
    migrateSchema(db, file, steps);
    return true;
  } catch {
    // Not writable here (permissions, a read-only mount): the read-only open says why it cannot read.
    return false;
  } finally {
    db.close();
  }
}

/**
 * For read-only use: the schema must be exactly the current one (no upgrade is possible).
 * @throws StoreError `E_SCHEMA_NEWER` / `E_SCHEMA_OLDER`.
 */
export function checkSchema(db: Database.Database, file: string, target: number = SCHEMA_STEPS.length): void {
  const current = schemaVersion(db);
  if (current > target) {
    throw new StoreError('E_SCHEMA_NEWER', file, `database schema version ${current} is newer than this vfio-sla supports (${target})`);
  }
  if (current < target) {
    throw new StoreError('E_SCHEMA_OLDER', file, `database schema version ${current} is older than ${target}; open it once for writing (e.g. vfio-sla import) to upgrade`);
  }
}
