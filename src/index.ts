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
