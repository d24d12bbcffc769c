/** Errors of the SQLite store, each with a stable `code` and the database file it concerns. */

/** Stable codes of {@link StoreError}. */
export type StoreErrorCode = 'E_SCHEMA_NEWER' | 'E_SCHEMA_OLDER' | 'E_SCHEMA_MIGRATION' | 'E_STORE_OPEN' | 'E_STORE_FOREIGN';

/** Opening or upgrading a database failed; `file` is the database path. */
export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
    this.name = 'StoreError';
  }
}
