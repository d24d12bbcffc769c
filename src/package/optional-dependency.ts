/**
 * The heavy dependencies — SQLite (`better-sqlite3`, a native build), DuckDB (~70 MB) and Vega —
 * are optional: a VMM that only decides installs `vfio-sla --omit=optional` and imports
 * `vfio-sla/core`. Each is loaded where it is used, and a missing one is this error, naming
 * what needed it and how to install it, instead of Node's bare "Cannot find package".
 */

/** A use of vfio-sla that needs an optional dependency that is not installed. */
export class MissingDependencyError extends Error {
  readonly code = 'E_MISSING_DEPENDENCY' as const;

  constructor(
    /** The npm package, e.g. `@duckdb/node-api`. */
    readonly packageName: string,
    /** What needed it, e.g. `vfio-sla export (Parquet)`. */
    readonly neededFor: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${neededFor} needs ${packageName}, an optional dependency of vfio-sla that is not installed ` +
        `(npm install ${packageName}; a plain 'npm install vfio-sla' includes it, --omit=optional leaves it out)`,
      options,
    );
    this.name = 'MissingDependencyError';
  }
}

/** Whether `e` says that `packageName` itself (not something inside it) could not be found. */
export function isMissingPackage(e: unknown, packageName: string): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  const code = err?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  const message = typeof err?.message === 'string' ? err.message : '';
  return message.includes(`'${packageName}'`) || message.includes(`"${packageName}"`);
}

/** `load()`, or a {@link MissingDependencyError} when `packageName` is not installed. */
export async function importOptional<T>(packageName: string, neededFor: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    if (isMissingPackage(e, packageName)) throw new MissingDependencyError(packageName, neededFor, { cause: e });
    throw e;
  }
}
