/** Stable codes of simulator errors (device errors use `DeviceError` and errno codes instead). */
export type SimErrorCode =
  /** `VirtualClock.advance()` would jump over a pending `sleep()`; await the sleep instead. */
  | 'E_CLOCK_SKIP'
  /** A negative, NaN or infinite duration or time. */
  | 'E_CLOCK_BAD_DURATION'
  /** A simulator option is out of range or inconsistent (profile, flags, probability...). */
  | 'E_SIM_CONFIG';

/** A misuse of the simulator itself, as opposed to a simulated device failure. */
export class SimError extends Error {
  constructor(
    readonly code: SimErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'SimError';
  }
}

/** Throws `E_SIM_CONFIG` unless `value` is a probability in [0, 1]. */
export function checkProbability(name: string, value: number): void {
  if (!(value >= 0 && value <= 1)) throw new SimError('E_SIM_CONFIG', `${name} must be in [0, 1], got ${String(value)}`);
}

/** Throws `E_SIM_CONFIG` unless `value` is finite and ≥ 0. */
export function checkNonNegative(name: string, value: number): void {
  if (!(value >= 0 && Number.isFinite(value))) {
    throw new SimError('E_SIM_CONFIG', `${name} must be a finite number ≥ 0, got ${String(value)}`);
  }
}
