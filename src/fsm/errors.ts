import { flagsName, stateName, type MigFlags, type MigState } from './states.js';

/** The kernel's answer `-EINVAL` to a SET_STATE request, with the request that caused it. */
export class FsmError extends Error {
  readonly code = 'EINVAL' as const;
  constructor(
    readonly from: MigState,
    readonly to: MigState,
    readonly flags: MigFlags,
    readonly why: string,
  ) {
    super(`EINVAL: ${safeName(from)} -> ${safeName(to)} with flags ${flagsName(flags)}: ${why}`);
    this.name = 'FsmError';
  }
}

function safeName(state: MigState): string {
  try {
    return stateName(state);
  } catch {
    return String(state);
  }
}
