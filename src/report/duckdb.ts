/**
 * The DuckDB edge: an in-process, in-memory DuckDB (`@duckdb/node-api`) for writing and reading
 * Parquet. Parquet and JSON support are built into the bundled library: nothing is downloaded.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { importOptional } from '../package/optional-dependency.js';
import { ReportError } from './errors.js';

/** A SQL string literal: `it's` → `'it''s'`. */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** An open in-memory DuckDB; `close()` releases the connection and the database. */
export interface OpenDuckDb {
  readonly connection: DuckDBConnection;
  /** Another connection to the same database (closed by `close()`): for work in parallel. */
  connect(): Promise<DuckDBConnection>;
  close(): void;
}

/** Opens a fresh in-memory DuckDB that never downloads extensions. */
export async function openDuckDb(): Promise<OpenDuckDb> {
  // Loaded on first use: importing the package must not load DuckDB's native library.
  const { DuckDBInstance } = await importOptional('@duckdb/node-api', 'Parquet export and import (DuckDB)', () => import('@duckdb/node-api'));
  const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  try {
    const connection = await instance.connect();
    const more: DuckDBConnection[] = [];
    return {
      connection,
      connect: async () => {
        const c = await instance.connect();
        more.push(c);
        return c;
      },
      close: () => {
        for (const c of more) c.closeSync();
        connection.closeSync();
        instance.closeSync();
      },
    };
  } catch (e) {
    instance.closeSync();
    throw e;
  }
}

/** A DuckDB failure as `E_DUCKDB` naming `what` was being done (a {@link ReportError} passes through). */
export function duckDbError(what: string, e: unknown): ReportError {
  return e instanceof ReportError ? e : new ReportError('E_DUCKDB', `${what}: ${(e as Error).message}`, { cause: e });
}

/** Runs `fn` with a connection to a fresh in-memory DuckDB (and the database, for more) and closes all after. */
export async function withDuckDb<T>(what: string, fn: (connection: DuckDBConnection, db: OpenDuckDb) => Promise<T>): Promise<T> {
  let duck: OpenDuckDb | undefined;
  try {
    duck = await openDuckDb();
    return await fn(duck.connection, duck);
  } catch (e) {
    throw duckDbError(what, e);
  } finally {
    duck?.close();
  }
}
