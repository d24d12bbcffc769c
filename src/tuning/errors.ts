/** Errors of the tuner, with a stable `code`. */
export type TuningErrorCode =
  /** An input that cannot describe a migration: non-finite or negative sizes and rates, α ∉ (0, 1). */
  | 'E_BAD_INPUT'
  /** A dirty-limit setting without per-vCPU rates or a vCPU count to spread the VM's rate over. */
  | 'E_NO_VCPU_RATES'
  /** Telemetry too thin to fit a workload from (no pre-copy polls, no second pass). */
  | 'E_NO_WORKLOAD_DATA';

export class TuningError extends Error {
  constructor(
    readonly code: TuningErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TuningError';
  }
}
