/**
 * How `scan.ts` reads a batch of a table's rows: with `f64s()`, an aggregate of our SQLite
 * extension (`native/sqlite-columns.c`) that returns a column of the batch as one BLOB of
 * doubles — one statement and one value per column for thousands of rows — or, without it, one
 * plucked SELECT per column (a value per row through better-sqlite3, ~3× the time for the
 * export's 3.6 M rows).
 *
 * The extension is compiled on first use with the system C compiler against the SQLite headers
 * better-sqlite3 ships with its bundled SQLite (`deps/sqlite3/sqlite3ext.h`), so it matches the
 * SQLite it is loaded into; the build is cached outside the package, keyed by the source and
 * that SQLite's version (`package/native-build.ts`). Without a compiler or the headers, the
 * reader is the plucked one and says why ({@link ColumnReader}); `export --json` and `fit --json`
 * report it.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { loadNative, nativeSource, type NativeBuildOptions } from '../package/native-build.js';
import type { Store } from './store.js';

/** The reader of a store's column batches, and why when it is the slow one. */
export type ColumnReader = { readonly kind: 'extension'; readonly path: string } | { readonly kind: 'plucked'; readonly reason: string };

/** Where the extension is built and the headers it is built against. */
export interface ColumnReaderOptions extends NativeBuildOptions {
  /** Folders searched for `sqlite3ext.h`. Default: better-sqlite3's `deps/sqlite3`. */
  readonly includeDirs?: readonly string[];
}

/** The C source, beside `src/` in the repository and beside `dist/` in the package. */
export const SQLITE_COLUMNS_SOURCE = nativeSource('sqlite-columns.c');

/** better-sqlite3's copy of the headers of the SQLite it bundles (its package has no `exports` map). */
function bundledSqliteIncludeDirs(): string[] {
  try {
    return [join(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')), 'deps', 'sqlite3')];
  } catch {
    return [];
  }
}

/** The default reader of each connection: built and loaded once. */
const readers = new WeakMap<Store['db'], ColumnReader>();

/**
 * The reader of `store`'s batches: the extension loaded into its connection when it can be
 * built and loaded, else the plucked reader with the reason. Never throws. With no options the
 * answer is kept per connection.
 */
export function columnReader(store: Store, options?: ColumnReaderOptions): ColumnReader {
  const kept = options === undefined ? readers.get(store.db) : undefined;
  if (kept !== undefined) return kept;
  const includeDirs = options?.includeDirs ?? bundledSqliteIncludeDirs();
  const sqliteVersion = store.db.prepare('SELECT sqlite_version()').pluck().get() as string;
  const loaded = loadNative(
    {
      name: 'sqlite-columns',
      suffix: '.so',
      source: SQLITE_COLUMNS_SOURCE,
      header: 'sqlite3ext.h',
      includeDirs,
      missingHeader: `SQLite's extension header (sqlite3ext.h) is not in ${includeDirs.length > 0 ? includeDirs.join(' or ') : "better-sqlite3's deps/sqlite3"}: reinstall better-sqlite3`,
      key: `sqlite ${sqliteVersion}`,
    },
    options ?? {},
    // SQLite derives the entry point, sqlite3_sqlitecolumns_init, from the file name (loadext.html).
    (path) => store.db.loadExtension(path),
  );
  const reader: ColumnReader = loaded.ok
    ? { kind: 'extension', path: loaded.path }
    : { kind: 'plucked', reason: `the store is read one value per row (no column extension): ${loaded.reason}` };
  if (options === undefined) readers.set(store.db, reader);
  return reader;
}
