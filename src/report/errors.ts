/** Errors of the analysis layer (stats, report, Parquet export and import), with a stable `code`. */

/** Stable codes of {@link ReportError}. */
export type ReportErrorCode =
  /** A filter value that is not one (an arc key that is no `FROM>TO`, an unparsable time). */
  | 'E_BAD_FILTER'
  /** A chart spec vega-lite or vega refused, or a render that produced no SVG. */
  | 'E_CHART'
  /** A Parquet directory that is not a `vfio-sla export` (no table folders, missing columns). */
  | 'E_BAD_EXPORT'
  /** DuckDB failed while writing or reading Parquet. */
  | 'E_DUCKDB';

export class ReportError extends Error {
  constructor(
    readonly code: ReportErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ReportError';
  }
}
