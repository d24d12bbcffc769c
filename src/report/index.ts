/**
 * Offline analysis of a store: `vfio-sla stats` tables, the self-contained HTML report, and the
 * Parquet export (and import) for fleet engines. Vega and DuckDB load on first use only.
 */
export { analyseStore } from './analyse.js';
export type { StoreAnalysis, AnalyseOptions } from './analyse.js';
export type { ArcStats, ArcSample, ArcPoint, ArcAnalysis } from './arc-stats.js';
export type { PolicyOutcomeSummary, EcdfPoint } from './outcome-stats.js';
export { blackoutBreakdown } from './breakdown.js';
export type { BlackoutArc, BlackoutBreakdown } from './breakdown.js';
export { buildReport, writeReport, renderReport } from './build-report.js';
export type { ReportOptions, ReportSummary } from './build-report.js';
export { exportParquet } from './export-parquet.js';
export type { ExportOptions, ExportSummary } from './export-parquet.js';
export { EXPORT_TABLES, EXPORT_COLUMNS, EXPORT_KEYS, EXPORT_FORMAT_VERSION } from './export-schema.js';
export type { ExportTable, ExportColumnType } from './export-schema.js';
export { parquetRecords, readParquetRecords } from './parquet-records.js';
export type { ParquetReadOptions } from './parquet-records.js';
export type { AnalysisFilter } from '../store/analysis.js';
export { parseTimeSpec } from './since.js';
export { ReportError } from './errors.js';
export type { ReportErrorCode } from './errors.js';
