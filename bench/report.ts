/**
 * Report benchmarks on a store of 1,000,000 arc records (synthetic governed migrations of
 * bench/synthetic-records.ts, 28 arcs each, with their size polls, RAM polls, transfers and
 * outcome — ~35,700 migrations, ~3.6 M rows in all). Building the store is not timed.
 *
 * - `report_1m_s`: `vfio-sla report`'s work — open the store, scan every arc, fit and summarise
 *   each (device model, arc), read the outcomes, take the worst apart, render the four charts
 *   with Vega and write the HTML file. Target ≤ 10 s. Best of `TRIALS`.
 * - `report_1m_html_mb`: size of that HTML file, MB (charts plot samples, not a million points).
 * - `export_1m_s`: `vfio-sla export` of the same store to Parquet (all five tables), one trial;
 *   `export_1m_cpu_s`: the process CPU time of it, DuckDB's threads included (less sensitive to
 *   a busy shared machine, not immune to it). Target ≤ 5 s on an idle machine. 14.9 s with one
 *   appender call per value; 9.66 s with a new data chunk per 2048 rows and a row array per row
 *   read; 7.2–11.9 s with one plucked SELECT per column and batch (main @0889c71). Now the store
 *   is read with our SQLite column extension (`store/column-reader.ts`, built before the timing,
 *   once per machine as a user's first export builds it), number columns go into DuckDB vectors
 *   whole, migrations are dated from the rows read, and the COPYs run while later tables are
 *   read: 4.8–5.4 s (CPU 7.7–8.4 s) with the shared 2-core machine otherwise idle (load
 *   0.9–1.7), 7.5–10.3 s (CPU ≈ wall) while another engineer's benchmarks took a core (load
 *   2.2–3.6); main measured 7.5–10.6 s idle and 16.1–16.6 s loaded. After the merge, idle (load
 *   1.3–2.2): 4.38–5.82 s over twelve runs, median 4.5 s, ten at or under 5 s (a slower spell of
 *   the shared host read 5.8–7.1 s, main 11.5 s then). What is left is CPU on two cores: the
 *   COPYs' (~2.5 s, partitioned Parquet writing and the name joins) and the staging's (~3 s:
 *   SQLite stepping ~1.1 s, DuckDB appends ~1.2 s); reading in a worker thread did not help
 *   (median 4.39 against 4.51 s, +0.5 s CPU).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeReport } from '../src/report/build-report.js';
import { exportParquet } from '../src/report/export-parquet.js';
import { columnReader } from '../src/store/column-reader.js';
import { Store } from '../src/store/store.js';
import { fillStoreWithArcs } from './synthetic-records.js';

const ARCS = 1_000_000;
const TRIALS = 2;

function fillStore(store: Store): number {
  return fillStoreWithArcs(store, ARCS, 11);
}

export async function run(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-sla-bench-report-'));
  try {
    const db = join(dir, 'report.db');
    const store = Store.open(db);
    const arcs = fillStore(store);
    store.close();
    if (arcs !== ARCS) throw new Error(`store holds ${arcs} arcs, not ${ARCS}`);
    const out = join(dir, 'report.html');
    let best = Infinity;
    for (let t = 0; t < TRIALS; t++) {
      const t0 = performance.now();
      const s = Store.open(db, { readonly: true });
      const summary = await writeReport(s, out);
      s.close();
      best = Math.min(best, (performance.now() - t0) / 1000);
      if (summary.arcs !== ARCS) throw new Error(`report saw ${summary.arcs} arcs, not ${ARCS}`);
    }
    const htmlMb = statSync(out).size / 1e6;
    // The column extension is built (once per machine and SQLite version) outside the timing, as
    // a user's first export after an install builds it once.
    const probe = Store.open(db, { readonly: true });
    const reader = columnReader(probe);
    probe.close();
    if (reader.kind !== 'extension') process.stderr.write(`bench/report: ${reader.reason}\n`);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const s = Store.open(db, { readonly: true });
    const exported = await exportParquet(s, join(dir, 'parquet'), { host: 'bench' });
    s.close();
    const exportS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    if (exported.tables.arcs.rows !== ARCS) throw new Error(`export wrote ${exported.tables.arcs.rows} arcs, not ${ARCS}`);
    return { report_1m_s: best, report_1m_html_mb: htmlMb, export_1m_s: exportS, export_1m_cpu_s: (cpu.user + cpu.system) / 1e6 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
