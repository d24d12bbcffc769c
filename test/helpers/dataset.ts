/**
 * Locates the shared QEMU dataset for tests (read-only): `VFIO_SLA_DATASET`, else `../shared/...`
 * beside the checkout, as CI lays it out. Outside CI a missing dataset skips the tests that need it;
 * under CI it is an error, so a mislaid dataset cannot turn those tests into no-ops.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { inCi } from './ci.js';

export const DATASET_DIR = resolve(
  process.env['VFIO_SLA_DATASET'] ?? join(import.meta.dirname, '../../../shared/datasets/qemu-kvm-postgres-migration'),
);
export const HAVE_DATASET = existsSync(join(DATASET_DIR, 'raw'));
if (!HAVE_DATASET && inCi()) {
  throw new Error(`the shared QEMU dataset is missing at ${DATASET_DIR} (set VFIO_SLA_DATASET)`);
}

/** Every `raw/<scenario>/mig-stats-run-<n>.json`, sorted. */
export function datasetRunFiles(): string[] {
  const raw = join(DATASET_DIR, 'raw');
  const files: string[] = [];
  for (const scenario of readdirSync(raw).sort()) {
    const dir = join(raw, scenario);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names.sort()) if (/^mig-stats-run-\d+\.json$/.test(n)) files.push(join(dir, n));
  }
  return files;
}

/** `derived/per_run_summary.csv` as rows keyed by `<scenario>/mig-stats-run-<run>`. */
export function perRunSummary(): Map<string, Record<string, string>> {
  const text = readFileSync(join(DATASET_DIR, 'derived/per_run_summary.csv'), 'utf8').trim();
  const [head, ...rows] = text.split('\n');
  const cols = (head ?? '').trim().split(',');
  const out = new Map<string, Record<string, string>>();
  for (const row of rows) {
    const cells = row.trim().split(',');
    const rec: Record<string, string> = {};
    cols.forEach((c, i) => (rec[c] = cells[i] ?? ''));
    out.set(`${rec['scenario']}/mig-stats-run-${rec['run']}`, rec);
  }
  return out;
}
