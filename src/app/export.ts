/**
 * The `export` use case: a store's telemetry as Parquet partitioned by day
 * (`report/export-parquet.ts`).
 */
import type { ExportSummary } from '../report/export-parquet.js';
import { storeDateRange, type StoreDateRange } from '../store/date-range.js';
import { openStore } from '../store/store.js';

/** Options of {@link exportStore}. */
export interface ExportStoreOptions {
  readonly db: string;
  readonly out: string;
  /** Host name in every row and file name (default: this machine's). */
  readonly host?: string;
  /** Only migrations of this time's UTC day and later, ms. */
  readonly sinceMs?: number | undefined;
  readonly onProgress?: ((doneRows: number, totalRows: number) => void) | undefined;
}

/** What {@link exportStore} wrote; `storeRange` is set when no migration was exported (to say why). */
export interface ExportStoreResult extends ExportSummary {
  readonly storeRange?: StoreDateRange | null;
}

/** Opens `db` read-only and writes its telemetry under `out`. */
export async function exportStore(options: ExportStoreOptions): Promise<ExportStoreResult> {
  // DuckDB's native library loads only when exporting.
  const { exportParquet } = await import('../report/export-parquet.js');
  const store = openStore(options.db, { readonly: true });
  try {
    const summary = await exportParquet(store, options.out, {
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.sinceMs === undefined ? {} : { sinceMs: options.sinceMs }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    });
    return summary.migrations === 0 ? { ...summary, storeRange: storeDateRange(store) } : summary;
  } finally {
    store.close();
  }
}
