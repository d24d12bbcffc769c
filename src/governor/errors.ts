/**
 * Stable codes of governor misuse. Device failures are not errors of the governor: they come back
 * as results (`DeadlineSetState`) or decisions (`abort`), because the VMM must act on them.
 */
export type GovernorErrorCode =
  /** An SLO with a deadline ≤ 0, α outside (0, 1) or a negative budget. */
  | 'E_BAD_SLO'
  /** A snapshot with a negative or non-finite RAM figure or elapsed time. */
  | 'E_BAD_SNAPSHOT'
  /** `DeadlineSetState` built with no devices, duplicate ids, or asked for an impossible request. */
  | 'E_BAD_REQUEST';

/** A governor input that cannot describe a real migration. */
export class GovernorError extends Error {
  constructor(
    readonly code: GovernorErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'GovernorError';
  }
}

/** Throws `E_BAD_SLO` naming the first of `values` outside (0, 1) — a probability or a level. */
export function checkOpenUnit(values: readonly (readonly [string, number])[]): void {
  for (const [name, v] of values) {
    if (!(v > 0 && v < 1)) throw new GovernorError('E_BAD_SLO', `${name} must be in (0, 1), got ${String(v)}`);
  }
}
