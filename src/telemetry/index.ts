export * from '../records/records.js';
export { validateRecord, parseRecordLine, RECORD_FIELDS, MAX_TIME_MS, MAX_DURATION_MS, MAX_BYTES } from './validate.js';
export { LineFramer, TOO_LARGE } from './line-framer.js';
export { RecordingPipeline } from './pipeline.js';
export type { PipelineOptions, PipelineStats, Ack } from './pipeline.js';
export type { BatchStore, BatchWriteResult, PipelineItem, AcceptedItem, RejectedItem } from './batch-store.js';
export { batchByCountOrTime } from './batch-operator.js';
export {
  PipelineError,
  RecordRejectedError,
  StoreFaultError,
  SpillError,
  NotCommittedError,
  formatSource,
  isCorruptionCode,
} from './errors.js';
export type { PipelineErrorCode } from './errors.js';
export { spillPathFor, orphanSpillFiles } from './spill.js';
