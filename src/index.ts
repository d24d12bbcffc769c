/**
 * vfio-sla — the public surface. Everything a VMM, a management layer or an analysis script
 * needs is exported from here; nothing else is public.
 */
export * from './fsm/index.js';
export * from './device/index.js';
export type {
  ArcRecord,
  SizeRecord,
  TransferRecord,
  RamRecord,
  OutcomeRecord,
  TelemetryRecord,
  RecordKind,
  RecordSource,
  RecordSink,
} from './telemetry/records.js';
export { RECORD_KINDS } from './telemetry/records.js';
export * from './sim/index.js';
export { QmpClient } from './qemu/qmp-client.js';
export { QmpConnection } from './qemu/qmp-connection.js';
export type {
  QmpBackoff,
  QmpConnectionOptions,
  QmpConnectionState,
  QmpEndpoint,
  QmpExecuteOptions,
} from './qemu/qmp-options.js';
export {
  QmpError,
  QmpCommandError,
  QmpTimeoutError,
  QmpClosedError,
  QmpConnectError,
  QmpProtocolError,
  QmpUnsupportedError,
} from './qemu/qmp-errors.js';
export type { QmpErrorCode } from './qemu/qmp-errors.js';
export type {
  QmpGreeting,
  QmpReceivedEvent,
  QmpTimestamp,
  QmpWireLine,
  QmpWireKind,
  QemuVersionTriple,
} from './qemu/qmp-protocol.js';
export { toQmpLogLine, qmpLogLines, QMP_LOG_REPLY_COMMANDS } from './qemu/qmp-wire-log.js';
export { MIGRATION_FINAL_STATUSES, isMigrationEvent, isMigrationPassEvent } from './qemu/qapi-migration.js';
export type {
  MigrationStatus,
  MigrationStats,
  MigrationInfo,
  MigrationSocketAddress,
  MigrationCapability,
  MigrationCapabilities,
  MigrationParameters,
  MigrationEventData,
  MigrationPassEventData,
  RunState,
  StatusInfo,
  DirtyLimitInfo,
} from './qemu/qapi-migration.js';
export * from './governor/index.js';
export { abortWithoutCalibratedModel, tooFewCalibrationScores } from './governor/uncalibrated.js';
export { MissingDependencyError } from './optional-dependency.js';
export {
  RecordingPipeline,
  validateRecord,
  parseRecordLine,
  batchByCountOrTime,
  PipelineError,
  RecordRejectedError,
  StoreFaultError,
  SpillError,
  NotCommittedError,
  formatSource,
} from './telemetry/index.js';
export type {
  PipelineOptions,
  PipelineStats,
  Ack,
  BatchStore,
  BatchWriteResult,
  PipelineItem,
  AcceptedItem,
  RejectedItem,
  PipelineErrorCode,
} from './telemetry/index.js';
export { importFiles } from './telemetry/import-files.js';
export type { ImportSummary, ImportOptions, ImportError, FileImport } from './telemetry/import-files.js';
export { detectFormat } from './telemetry/file-format.js';
export type { ImportFormat } from './telemetry/file-format.js';
export {
  Store,
  openStore,
  defaultDbPath,
  StoreError,
  SCHEMA_VERSION,
  iterateArcs,
  arcGroups,
  transfers,
  ramProgress,
  sizes,
  outcomes,
  parseArcKey,
  listMigrations,
  listDevices,
  listRejects,
  tableCounts,
  recordCount,
} from './store/index.js';
export type {
  StoreOptions,
  StoreErrorCode,
  ArcFilter,
  ArcGroup,
  MigrationSummary,
  StoredDevice,
  StoredReject,
  StoreTable,
} from './store/index.js';
export * from './estimators/index.js';
export { parseQmpLog, migrationToRecords, migrationIdFromPath, QMP_DEFAULT_DOWNTIME_LIMIT_MS } from './qemu/qmp-log.js';
export type { QmpLogParse, QmpLogError, QmpMigration, QmpPoll, QmpRamStats, QmpEvent } from './qemu/qmp-log.js';
export { precopyExclusion, qmpEvalInput } from './qemu/qmp-eval.js';
export type { QmpEvalInput, ExcludedMigration } from './qemu/qmp-eval.js';
export { MigrationWatch, WATCH_POLL_INTERVAL_MS, COMPLETION_STATS_TIMEOUT_MS, ABORT_CONFIRM_POLLS } from './qemu/watch.js';
export type { WatchOptions } from './qemu/watch.js';
export type {
  WatchEntry,
  WatchResult,
  WatchEnd,
  AttachEntry,
  NoteEntry,
  EventEntry,
  PollEntry,
  DecisionEntry,
  LimitEntry,
  ThrottleEntry,
  CancelEntry,
  EndEntry,
  PollFigures,
} from './qemu/watch-types.js';
export { WatchRecorder } from './qemu/watch-recorder.js';
export type { WatchRecorderOptions, RecordedLine, RecorderPhase } from './qemu/watch-recorder.js';
export { qmpSnapshot, pollFigures, SnapshotTracker, QEMU_DIRTY_RATE_PERIOD_MS } from './qemu/qmp-snapshot.js';
export type { SnapshotResult, NotReadyReason } from './qemu/qmp-snapshot.js';
export { DowntimeLever, releaseDowntimeLimitMs, HOLD_DOWNTIME_LIMIT_MS, HOLD_SWITCHOVER_BANDWIDTH_BYTES_PER_S } from './qemu/drive.js';
export type { LimitChange } from './qemu/drive.js';
export { ThrottleLever, throttlePercent } from './qemu/watch-throttle.js';
export type { ThrottleLeverStep } from './qemu/watch-throttle.js';
export { loadModel, saveModel, DEFAULT_PRIORS_FILE } from './cli/model-file.js';
export * from './sim/fleet/index.js';
export * from './sim/policies/index.js';
export {
  startService,
  initialModel,
  Service,
  ServiceServer,
  ServiceError,
  METHODS,
  loadedModel,
  workerFitter,
  inlineFitter,
  defaultFitter,
  DEFAULT_MAX_LINE_BYTES,
  DEFAULT_MAX_CONNECTIONS,
} from './server/index.js';
export type {
  StartOptions,
  RunningService,
  InitialModelOptions,
  ServiceOptions,
  ServerOptions,
  ServiceErrorCode,
  Method,
  RequestId,
  LoadedModel,
  ModelSource,
  Fitter,
  FitJob,
} from './server/index.js';
export * from './report/index.js';
export * from './tuning/index.js';
