/**
 * Opening a database for reading where SQLite cannot write beside it: read-only media, a
 * read-only bind mount, a folder the reader may not write.
 *
 * A WAL database is read through its wal-index, the `-shm` file beside it, which a reader
 * creates when it is missing; where it cannot, the first read fails with `SQLITE_CANTOPEN`
 * (https://sqlite.org/wal.html#readonly: a read-only WAL database opens when the -shm and -wal
 * files exist, when they can be created, or when the database is opened `immutable`). Our files
 * are checkpointed and their -wal/-shm removed when the last writer closes, so on read-only
 * media they usually have neither: we then open them with the `immutable` URI parameter
 * (https://sqlite.org/uri.html#uriimmutable), which reads the main file without locks or a
 * wal-index. Immutable ignores a -wal file, so one with content (changes not yet in the main
 * file) is refused instead of read as if it were not there.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';

type DatabaseConstructor = new (filename: string, options?: Database.Options) => Database.Database;

/** The database and whether it had to be opened immutable (SQLite then assumes nobody changes the file while it is open). */
export interface ReadableDatabase {
  readonly db: Database.Database;
  readonly immutable: boolean;
}

/** `path` as an SQLite URI filename: `%`, `?` and `#` percent-encoded (https://sqlite.org/uri.html). */
export function sqliteFileUri(path: string, query: string): string {
  return `file:${path.replace(/[%?#]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}?${query}`;
}

/**
 * `db` (opened read-only on `path`) when it can be read; else, where SQLite cannot create the
 * wal-index, `db` closed and `path` opened immutable (see the module comment). Other read errors
 * (a corrupt file, say) are thrown as they are.
 */
export function readableOrImmutable(Sqlite: DatabaseConstructor, db: Database.Database, path: string, timeoutMs: number): ReadableDatabase {
  try {
    db.pragma('user_version'); // the first read: where the wal-index is needed
    return { db, immutable: false };
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'SQLITE_CANTOPEN') throw e;
    db.close();
  }
  const name = basename(path);
  const cannot = `cannot be read here: SQLite cannot create ${name}-shm beside it (read-only media, or a folder we may not write)`;
  const walBytes = sizeOf(`${path}-wal`);
  if (walBytes > 0) {
    throw new StoreError(
      'E_STORE_OPEN',
      path,
      `${cannot}, and ${name}-wal holds ${walBytes} bytes of changes not yet in the database; copy the database with its -wal to writable storage`,
    );
  }
  const immutable = new Sqlite(sqliteFileUri(path, 'immutable=1'), { readonly: true, timeout: timeoutMs });
  try {
    immutable.pragma('user_version');
  } catch (e) {
    immutable.close();
    throw new StoreError(
      'E_STORE_OPEN',
      path,
      `${cannot}, and opening it immutable failed too (${(e as Error).message}${process.env['SQLITE_USE_URI'] === '1' ? '' : '; SQLITE_USE_URI is not 1, so better-sqlite3 takes URI filenames literally'})`,
      { cause: e },
    );
  }
  return { db: immutable, immutable: true };
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
