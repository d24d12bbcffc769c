/**
 * The estimators: pure maths from telemetry records to a calibrated blackout prediction.
 * No I/O, no clock: data in, numbers out.
 */
export * from './types.js';
export { EstimatorError } from './errors.js';
export type { EstimatorErrorCode } from './errors.js';
export { fitModel } from './fit.js';
export { FitInput, SIMULATED_MIGRATION_PREFIX } from './fit-input.js';
export type { FitSelection } from './fit-input.js';
export type { FitModelOptions } from './fit.js';
export { compileModel } from './compile.js';
export type { CompiledModel, CompiledArc, CompiledChain, CompiledDevice, CompiledLink, CompileOptions } from './compile.js';
export { predictBlackout, blackoutMissProbability, unionBoundCoverage, UNION_BOUND_TOP_LEVEL, resolveLink } from './predict.js';
export { termCalibration, termExceedance, termQuantile, restScaleMs, TERM_REST_SPREAD_WEIGHT, TERM_REST_SPREAD_LEVEL, MIN_TERM_CALIBRATION } from './term-risk.js';
export type { TermRow, TermQuery, CompiledTerms } from './term-risk.js';
export { fitArc, fitArcModels, bucketArcs, bucketMigrations, fitArcBuckets } from './arc-fit.js';
export type { ArcModels, ArcFitOptions, ArcBucket, ArcBuckets } from './arc-fit.js';
export { fitBlackout, fitRamCarry, MAX_BLACKOUT_BYTES_PER_S } from './blackout-fit.js';
export type { BlackoutFit, BlackoutPriors, BlackoutFitOptions } from './blackout-fit.js';
export { fitLinkSlopes, estimatePseudoCount } from './link-fit.js';
export { channelLinkName, baseLinkName, MIN_CHANNEL_GROUP_BLACKOUTS } from './channels.js';
export type { LinkSamples, LinkSlope, LinkSlopeOptions, SlopeEstimate, GroupSlope } from './link-fit.js';
export {
  conformalRank,
  conformalQuantile,
  minCalibrationSize,
  logRatioScore,
  calibrationFromScores,
  binomialUpperTail,
  driftTest,
  recalibrate,
} from './conformal.js';
export type { DriftTest } from './conformal.js';
export { migrationFacts, allMigrationFacts, collectMigrations, MigrationCollector, factsOf, factRecords, blackoutLink } from './migrations.js';
export type { MigrationFacts, MigrationData } from './migrations.js';
export { parseFittedModel, parseModelJson, stringifyModel } from './model-json.js';
export { buildPriors, PRIORS_WRITTEN_AT } from './priors.js';
export { crossValidate, absLog2Err, categoryOf } from './cross-validate.js';
export type { EvalCase, EvalRun, EvalReport, ErrorSummary, CrossValidateOptions, EvalFolds } from './cross-validate.js';
export { precopyRounds } from './rounds.js';
export type { PrecopyRound } from './rounds.js';
export { theilSen, quantileSorted, median, normalQuantile } from './robust.js';
export type { RobustLine } from './robust.js';
export { convergenceRatio, projectPrecopy, maxDirtyRateForTarget } from './precopy.js';
export type { PrecopyState, PrecopyLimits, PrecopyProjection } from './precopy.js';
