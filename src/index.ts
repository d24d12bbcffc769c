/**
 * vfio-sla — the public surface: the contract of `shared/specs/design.md` (FSM, device,
 * telemetry records, governor) and what a VMM integration needs around it (models, recording
 * and the store, QEMU's QMP, the service, tuning, offline analysis). Everything else —
 * simulator, policies, CLI helpers, estimator internals — is internal and may change; tests
 * import it by path.
 *
 * ```ts
 * import { compileModel, decide, loadModel } from 'vfio-sla';
 * const model = compileModel(loadModel('models/host.json'));
 * const d = decide(snapshot, model, { deadlineMs: 300, alpha: 0.01 });   // 'commit' | 'wait' | 'throttle' | 'abort'
 * ```
 */

// The kernel's VFIO v2 migration FSM (contract): states and flags with the kernel's numbers, the
// next state `vfio_mig_get_next_state()` steps to, the whole path, and the arc key of telemetry.
export { MigState, MigFlags, stateName, parseStateName, nextState, planPath, arcKey, FsmError } from './fsm/index.js';
export type { MigStateName } from './fsm/index.js';

// A migratable device (contract): what `DeadlineSetState` drives, with errno-typed failures.
export { DeviceError } from './device/index.js';
export type { MigrationDevice, PrecopyInfo, DeviceErrno } from './device/index.js';

// A real kernel VFIO device through our helper (`native/vfio-helper.c`), and what `vfio-sla probe`
// does with one: loopback migration cycles, per-arc latencies, FSM conformance against the kernel.
export * from './vfio/index.js';
export * from './app/probe/index.js';

// Telemetry records (contract): the JSON-lines shapes every layer reads and writes.
export { RECORD_KINDS } from './records/records.js';
export type {
  ArcRecord,
  SizeRecord,
  TransferRecord,
  RamRecord,
  OutcomeRecord,
  AttemptRecord,
  AttemptStatus,
  TelemetryRecord,
  RecordKind,
  RecordSource,
  RecordSink,
} from './records/records.js';

// The governor (contract): the pure decision before STOP_COPY, and the set-state wrapper that
// decides, drives every device of a VM and records each arc.
export { decide, FAILED_SIZE_QUERY_BYTES } from './governor/decide.js';
export { abortWithoutCalibratedModel, tooFewCalibrationScores } from './governor/uncalibrated.js';
export { DeadlineSetState } from './governor/deadline-set-state.js';
export { realTimeClock } from './governor/clock.js';
export { outcomeRecord, attemptRecord, GOVERNOR_POLICY } from './governor/outcome.js';
export { AdaptiveAlpha, decisionAlpha } from './governor/adaptive-alpha.js';
export { decideAtLowestLevel, type LeveledDecision } from './governor/risk-levels.js';
export type { AdaptiveAlphaOptions, AdaptiveAlphaStatus } from './governor/adaptive-alpha.js';
export { RiskKnapsack } from './governor/risk-knapsack.js';
export type { KnapsackCharge, RiskKnapsackOptions, RiskKnapsackStatus } from './governor/risk-knapsack.js';
export { bestCaseMissProbability } from './governor/best-case-risk.js';
export { CalibrationWatcher } from './governor/calibration.js';
export { GovernorError } from './governor/errors.js';
export type { NowSource } from './governor/clock.js';
export type { GovernorErrorCode } from './governor/errors.js';
export type { CalibrationStatus, CalibrationWatcherOptions, ObservedOutcome } from './governor/calibration.js';
export type { BindingLimit, Decision, DecisionAction, DecisionReason, DeviceSnapshot, Slo, SwitchoverAck, ThrottleAdvice, VmSnapshot } from './governor/types.js';
export type {
  ArcRun,
  DeadlineSetStateOptions,
  DeviceFailure,
  DeviceResult,
  RamStatus,
  SetStateOptions,
  SetStateOutcome,
  SetStateResult,
} from './governor/set-state-types.js';

// Models: fit from records or a store, compile once, predict; model files on disk; the drift test.
export { fitModel } from './estimators/fit.js';
export { FitInput, SIMULATED_MIGRATION_PREFIX } from './estimators/fit-input.js';
export { compileModel } from './estimators/compile.js';
export { predictBlackout, blackoutMissProbability } from './estimators/predict.js';
export { driftTest, recalibrate } from './estimators/conformal.js';
export { parseModelJson, stringifyModel } from './estimators/model-json.js';
export { buildPriors } from './estimators/priors.js';
export { EstimatorError } from './estimators/errors.js';
export { MODEL_VERSION } from './estimators/types.js';
export { loadModel, saveModel, DEFAULT_PRIORS_FILE } from './files/model-file.js';
export type { FitModelOptions } from './estimators/fit.js';
export type { FitSelection } from './estimators/fit-input.js';
export type { CompiledModel, CompileOptions } from './estimators/compile.js';
export type { DriftTest } from './estimators/conformal.js';
export type { EstimatorErrorCode } from './estimators/errors.js';
export type { FittedModel, TermCalibration, PrecopyTimeModel, BlackoutDevice, BlackoutQuery, BlackoutPart, BlackoutPrediction } from './estimators/types.js';

// Recording: the RxJS pipeline into the SQLite store, the store, and importing files.
export { RecordingPipeline } from './telemetry/pipeline.js';
export { validateRecord, parseRecordLine, MAX_TIME_MS, MAX_DURATION_MS, MAX_BYTES } from './telemetry/validate.js';
export { OutputTargetError } from './files/output-target.js';
export { PipelineError, RecordRejectedError, StoreFaultError, SpillError, NotCommittedError } from './telemetry/errors.js';
export { Store, openStore, defaultDbPath } from './store/store.js';
export { StoreError } from './store/errors.js';
export { collectStore } from './store/store-records.js';
export { importFiles } from './app/import-files.js';
export type { PipelineOptions, PipelineStats, Ack } from './telemetry/pipeline.js';
export type { PipelineErrorCode } from './telemetry/errors.js';
export type { StoreOptions } from './store/store.js';
export type { StoreErrorCode } from './store/errors.js';
export type { ImportSummary, ImportOptions, ImportError, FileImport } from './app/import-files.js';

// QEMU: the QMP client, QMP logs as records, and `watch` (follow, record and drive a migration).
export { QmpClient } from './qemu/qmp-client.js';
export { QmpError, QmpCommandError, QmpTimeoutError, QmpClosedError, QmpConnectError, QmpProtocolError, QmpUnsupportedError } from './qemu/qmp-errors.js';
export { parseQmpLog, migrationToRecords } from './qemu/qmp-log.js';
export { MigrationWatch } from './app/watch/watch.js';
export type { QmpBackoff, QmpConnectionOptions, QmpEndpoint, QmpExecuteOptions } from './qemu/qmp-options.js';
export type { QmpErrorCode } from './qemu/qmp-errors.js';
export type { QmpReceivedEvent } from './qemu/qmp-protocol.js';
export type { MigrationInfo, MigrationParameters, MigrationStatus } from './qemu/qapi-migration.js';
export type { QmpLogParse, QmpMigration } from './qemu/qmp-log.js';
export type { WatchOptions } from './app/watch/watch.js';
export type { VfioTraceOptions } from './app/watch/watch-vfio.js';
export type { VfioLog, VfioSide, VfioSideLog } from './qemu/vfio-records.js';
export type { VfioDeviceInfo } from './qemu/vfio-devices.js';
export type { WatchEntry, WatchEnd, WatchResult } from './app/watch/watch-types.js';

// The JSON-lines service a VMM in any language calls (`vfio-sla serve`), embeddable.
export { startService, initialModel } from './server/start.js';
export { ServiceError } from './server/errors.js';
export type { StartOptions, RunningService, InitialModelOptions } from './server/start.js';
export type { ServiceErrorCode } from './server/errors.js';

// Tuning: QEMU knobs that make pre-copy converge and the blackout fit.
export { tune } from './tuning/tune.js';
export { TuningError } from './tuning/errors.js';
export type { TuneInput, TuneResult, Recommendation, SwitchoverKnobs, ThrottleSetting } from './tuning/types.js';
export type { TuningErrorCode } from './tuning/errors.js';

// Offline analysis: stats, the HTML report, the Parquet export and reading it back.
export { analyseStore } from './report/analyse.js';
export { writeReport } from './report/build-report.js';
export { exportParquet } from './report/export-parquet.js';
export { readParquetRecords } from './report/parquet-records.js';
export { ReportError } from './report/errors.js';
export type { StoreAnalysis, AnalyseOptions } from './report/analyse.js';
export type { AnalysisFilter } from './store/analysis.js';
export type { ReportOptions, ReportSummary } from './report/build-report.js';
export type { ExportOptions, ExportSummary } from './report/export-parquet.js';
export type { ReportErrorCode } from './report/errors.js';

// The optional heavy dependencies (SQLite, DuckDB, Vega): a use that needs a missing one throws
// this, naming the package and what needed it (`vfio-sla/core` needs none of them).
export { MissingDependencyError } from './package/optional-dependency.js';
