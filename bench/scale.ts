/**
 * Scale run (`npm run bench:scale`): streams 10 M records from a JSON-lines file through the
 * importer and the recording pipeline into a fresh database, and reports the process's peak
 * RSS. The file is generated first, in a child process, so the peak measured is the import's.
 *
 * Keys merged into bench/results/latest.json: `ingest_10m_peak_rss_mb` (target ≤ 250),
 * `ingest_10m_records_per_s` (file → JSON.parse → validate → SQLite), `ingest_10m_seconds`.
 * `SCALE_RECORDS` changes the count (the keys keep their names); `SCALE_KEEP=1` keeps the files.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store } from '../src/store/store.js';
import { recordCount } from '../src/store/inventory.js';
import { importFiles } from '../src/app/import-files.js';
import { RecordingPipeline } from '../src/telemetry/pipeline.js';
import { syntheticRecords } from './synthetic-records.js';

const RECORDS = Number(process.env['SCALE_RECORDS'] ?? 10_000_000);
const KEEP = process.env['SCALE_KEEP'] === '1';
const resultsFile = join(process.cwd(), 'bench', 'results', 'latest.json');
const log = (msg: string): void => {
  if (process.stderr.isTTY) process.stderr.write(`${msg}\n`);
};

function generate(file: string, count: number): void {
  const fd = openSync(file, 'w');
  let chunk: string[] = [];
  for (const r of syntheticRecords(count, 7)) {
    chunk.push(JSON.stringify(r));
    if (chunk.length === 10_000) {
      writeSync(fd, chunk.join('\n') + '\n');
      chunk = [];
    }
  }
  if (chunk.length > 0) writeSync(fd, chunk.join('\n') + '\n');
  closeSync(fd);
}

function merge(results: Record<string, number>): void {
  let previous: Record<string, unknown> = {};
  try {
    previous = JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>;
  } catch {
    // first run
  }
  mkdirSync(dirname(resultsFile), { recursive: true });
  writeFileSync(resultsFile, `${JSON.stringify({ ...previous, ...results }, null, 2)}\n`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-sla-scale-'));
  try {
    const file = join(dir, 'records.jsonl');
    log(`generating ${RECORDS.toLocaleString('en-US')} records in ${file}`);
    const gen = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--generate', file, String(RECORDS)], { stdio: 'inherit' });
    if (gen.status !== 0) throw new Error(`generator failed with status ${gen.status}`);
    const db = join(dir, 'scale.db');
    const store = Store.open(db);
    const pipeline = new RecordingPipeline(store);
    log('importing');
    const t0 = performance.now();
    const summary = await importFiles([file], pipeline);
    await pipeline.close();
    const seconds = (performance.now() - t0) / 1000;
    const stored = recordCount(store);
    store.close();
    if (summary.accepted !== RECORDS || summary.rejected !== 0 || stored !== RECORDS) {
      throw new Error(`scale run lost records: accepted ${summary.accepted}, rejected ${summary.rejected}, stored ${stored} of ${RECORDS}`);
    }
    const results = {
      ingest_10m_peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      ingest_10m_records_per_s: Math.round(RECORDS / seconds),
      ingest_10m_seconds: Number(seconds.toFixed(1)),
    };
    merge(results);
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } finally {
    if (KEEP) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

const [mode, genFile, genCount] = process.argv.slice(2);
if (mode === '--generate' && genFile !== undefined) generate(genFile, Number(genCount));
else await main();
