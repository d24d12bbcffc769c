/**
 * Errors of the use-case wing. A use case checks what only it can check (a database that
 * holds no such migration, a model that does not know a device) and says so with
 * {@link AppInputError}; the CLI reports it as a usage error (exit 2).
 */

/** What the caller asked for cannot be done as asked: `option` names the input at fault. */
export class AppInputError extends Error {
  readonly code = 'EINVAL';
  constructor(
    /** The option or input at fault, as a user names it (e.g. `--migration`). */
    readonly option: string,
    /** The whole message, naming the option. */
    message: string,
  ) {
    super(message);
    this.name = 'AppInputError';
  }
}
