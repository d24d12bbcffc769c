/** Errors of the estimators, with a stable `code`. */
export type EstimatorErrorCode =
  /** A serialised model has another {@link MODEL_VERSION}. */
  | 'E_MODEL_VERSION'
  /** A serialised model is not a valid FittedModel (the message names the field). */
  | 'E_BAD_MODEL'
  /** An argument outside its domain (α ∉ (0, 1), negative bytes, ...). */
  | 'E_BAD_ARGUMENT';

export class EstimatorError extends Error {
  constructor(
    readonly code: EstimatorErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EstimatorError';
  }
}
