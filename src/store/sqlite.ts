/**
 * better-sqlite3, loaded when a store is first opened rather than when the package is imported:
 * it is an optional dependency (a native build), which `vfio-sla/core` does without.
 */
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import { isMissingPackage, MissingDependencyError } from '../package/optional-dependency.js';

type DatabaseConstructor = typeof Database;
let loaded: DatabaseConstructor | undefined;

/** The `better-sqlite3` constructor; a {@link MissingDependencyError} when it is not installed. */
export function sqlite(): DatabaseConstructor {
  if (loaded !== undefined) return loaded;
  try {
    // URI filenames, for `immutable` opens of databases on read-only media (read-only-open.ts):
    // better-sqlite3 reads SQLITE_USE_URI once, when its addon loads (its src/addon.cpp,
    // ConfigureURI). Our own paths are always absolute (Store.open resolves them), never `file:`.
    process.env['SQLITE_USE_URI'] ??= '1';
    // better-sqlite3 is CommonJS: a synchronous require keeps Store.open synchronous.
    loaded = createRequire(import.meta.url)('better-sqlite3') as DatabaseConstructor;
  } catch (e) {
    if (isMissingPackage(e, 'better-sqlite3')) throw new MissingDependencyError('better-sqlite3', "vfio-sla's SQLite store", { cause: e });
    throw e;
  }
  return loaded;
}
