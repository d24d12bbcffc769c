/**
 * Device migration states and feature flags of the VFIO migration uAPI v2, with the kernel's
 * numbering (`enum vfio_device_mig_state` and `VFIO_MIGRATION_*` in `include/uapi/linux/vfio.h`).
 */

/** Migration states, numbered as the kernel numbers them. */
export const MigState = {
  ERROR: 0,
  STOP: 1,
  RUNNING: 2,
  STOP_COPY: 3,
  RESUMING: 4,
  RUNNING_P2P: 5,
  PRE_COPY: 6,
  PRE_COPY_P2P: 7,
} as const;
export type MigState = (typeof MigState)[keyof typeof MigState];
export type MigStateName = keyof typeof MigState;

/** Bits of `VFIO_DEVICE_FEATURE_MIGRATION.flags`. STOP_COPY is mandatory. */
export const MigFlags = {
  STOP_COPY: 1,
  P2P: 2,
  PRE_COPY: 4,
} as const;
export type MigFlags = number;

/** Every state, in kernel order. */
export const ALL_STATES: readonly MigState[] = [0, 1, 2, 3, 4, 5, 6, 7];

/** The four flag sets the kernel accepts from a driver (STOP_COPY plus any of P2P, PRE_COPY). */
export const VALID_FLAG_SETS: readonly MigFlags[] = [
  MigFlags.STOP_COPY,
  MigFlags.STOP_COPY | MigFlags.P2P,
  MigFlags.STOP_COPY | MigFlags.PRE_COPY,
  MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY,
];

const NAMES: readonly MigStateName[] = [
  'ERROR',
  'STOP',
  'RUNNING',
  'STOP_COPY',
  'RESUMING',
  'RUNNING_P2P',
  'PRE_COPY',
  'PRE_COPY_P2P',
];

/** `stateName(MigState.STOP_COPY)` → `"STOP_COPY"`. */
export function stateName(state: MigState): MigStateName {
  const name = NAMES[state];
  if (name === undefined) throw new RangeError(`not a VFIO migration state: ${String(state)}`);
  return name;
}

/** Parses a state name (`"STOP_COPY"`); `undefined` when it is not one. */
export function parseStateName(name: string): MigState | undefined {
  return Object.hasOwn(MigState, name) ? MigState[name as MigStateName] : undefined;
}

/** True for a number that is one of the eight kernel states. */
export function isMigState(value: unknown): value is MigState {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 7;
}

/** `flagsName(7)` → `"STOP_COPY|P2P|PRE_COPY"`. */
export function flagsName(flags: MigFlags): string {
  const parts: string[] = [];
  if (flags & MigFlags.STOP_COPY) parts.push('STOP_COPY');
  if (flags & MigFlags.P2P) parts.push('P2P');
  if (flags & MigFlags.PRE_COPY) parts.push('PRE_COPY');
  const unknown = flags & ~7;
  if (unknown) parts.push(`0x${unknown.toString(16)}`);
  return parts.length > 0 ? parts.join('|') : '0';
}
