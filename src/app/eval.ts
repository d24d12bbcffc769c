/**
 * The `eval` use case: cross-validate the blackout predictor and the time-to-completion
 * projection on real QEMU migrations read from QMP files.
 */
import { readFileSync } from 'node:fs';
import { crossValidate, type EvalFolds, type EvalReport } from '../estimators/cross-validate.js';
import { crossValidateTotalTime, type TotalTimeEvalReport } from '../estimators/total-time-eval.js';
import { DEFAULT_PRIORS_FILE, loadModel } from '../files/model-file.js';
import { qmpEvalInput, type QmpEvalInput } from '../qemu/qmp-eval.js';

/** Options of {@link evaluateQmpFiles}. */
export interface EvaluateOptions {
  /** QMP log files. */
  readonly files: readonly string[];
  /** Priors to shrink toward; `null`: none. Default: the package's priors. */
  readonly priors?: string | null | undefined;
  /** Miscoverage of the bound, in (0, 1). */
  readonly alpha: number;
  /** Leave-one-out or K folds by migration, or leave one category (scenario) out. */
  readonly folds: EvalFolds;
}

/**
 * What {@link evaluateQmpFiles} found: the input as read (unreadable lines, id collisions,
 * left-out migrations) and, when the files hold no collision and at least 2 usable
 * migrations, both reports.
 */
export interface EvaluateResult {
  readonly input: QmpEvalInput;
  readonly evaluated?: { readonly blackout: EvalReport; readonly totalTime: TotalTimeEvalReport };
}

/** At least this many usable migrations to cross-validate. */
export const MIN_EVAL_MIGRATIONS = 2;

/** Reads `files` and cross-validates on them (see {@link EvaluateResult}). */
export function evaluateQmpFiles(options: EvaluateOptions): EvaluateResult {
  const priorsFile = options.priors === undefined ? DEFAULT_PRIORS_FILE : options.priors;
  const priors = priorsFile === null ? undefined : loadModel(priorsFile);
  const input = qmpEvalInput(options.files.map((file) => ({ file, text: readFileSync(file, 'utf8') })));
  if (input.collisions.length > 0 || input.cases.length < MIN_EVAL_MIGRATIONS) return { input };
  return {
    input,
    evaluated: {
      blackout: crossValidate(input.cases, priors, { alpha: options.alpha, folds: options.folds }),
      totalTime: crossValidateTotalTime(input.cases, options.alpha, options.folds),
    },
  };
}
