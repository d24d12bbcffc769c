/**
 * `vfio-sla/core` — what a VMM needs at the switchover and nothing else: the kernel's VFIO
 * migration FSM, the device interface, model files, `decide()` and `DeadlineSetState`.
 *
 * It loads no native or heavy module (no SQLite, DuckDB, Vega; no store, report, server or
 * simulator): `npm install vfio-sla --omit=optional` is enough for it, and
 * `test/core-entry.test.ts` walks its imports to keep it so.
 *
 * ```ts
 * import { compileModel, decide, loadModel } from 'vfio-sla/core';
 * ```
 */
export * from './fsm/index.js';
export * from './device/index.js';
export * from './governor/index.js';
export { abortWithoutCalibratedModel, tooFewCalibrationScores } from './governor/uncalibrated.js';
export { loadModel, saveModel, DEFAULT_PRIORS_FILE } from './files/model-file.js';
export { compileModel } from './estimators/compile.js';
export type { CompiledModel, CompileOptions } from './estimators/compile.js';
export { predictBlackout, blackoutMissProbability } from './estimators/predict.js';
export { parseFittedModel, parseModelJson, stringifyModel } from './estimators/model-json.js';
export { conformalRank, minCalibrationSize, driftTest, recalibrate } from './estimators/conformal.js';
export type { DriftTest } from './estimators/conformal.js';
export { EstimatorError } from './estimators/errors.js';
export type { EstimatorErrorCode } from './estimators/errors.js';
export type {
  ArcLatencyModel,
  BlackoutDevice,
  BlackoutPart,
  BlackoutPrediction,
  BlackoutQuery,
  CalibrationModel,
  FittedModel,
  FixedCostModel,
  LinkModel,
  RamCarryModel,
  TermCalibration,
} from './estimators/types.js';
export type { ArcRecord, OutcomeRecord, RecordSink, RecordSource, SizeRecord, TelemetryRecord } from './records/records.js';
