export * from '../records/records.js';
export { validateRecord, parseRecordLine, RECORD_FIELDS } from './validate.js';
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
} from './errors.js';
export type { PipelineErrorCode } from './errors.js';
export { spillPathFor, orphanSpillFiles } from './spill.js';
