/**
 * Long-line benchmark (issue 18 item 5): a JSON-lines file with one 50 MB line between two
 * records, imported through the pipeline. The shared `LineFramer` scans each byte once and
 * holds at most `MAX_RECORD_LINE_BYTES` of the line; before it, the importer rescanned its
 * carry-over per 64 KiB chunk (121 s and 555 MB for this file).
 *
 * Keys: `long_line_import_s` (target: < 2 s on the 2-core machine), `long_line_rss_growth_mb`
 * (peak RSS growth during the import; target < 64).
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../src/store/store.js';
import { importFiles } from '../src/app/import-files.js';
import { RecordingPipeline } from '../src/telemetry/pipeline.js';

const LINE_BYTES = 50_000_000;

export async function run(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-sla-bench-long-line-'));
  try {
    const rec = (t: number): string =>
      JSON.stringify({ kind: 'ram', migrationId: 'm', atMs: t, pass: 1, remainingBytes: 1, dirtyBytesPerS: 0, bandwidthBytesPerS: 1 });
    const file = join(dir, 'long.jsonl');
    // Written in 1 MB blocks: the 50 MB line is never a string here, so RSS growth is the import's.
    const fd = openSync(file, 'w');
    writeSync(fd, `${rec(1)}\n{"kind":"ram","migrationId":"`);
    const block = Buffer.alloc(1_000_000, 'x');
    for (let i = 0; i < LINE_BYTES / block.length; i++) writeSync(fd, block);
    writeSync(fd, `"}\n${rec(2)}\n`);
    closeSync(fd);
    const store = Store.open(join(dir, 'bench.db'));
    const pipeline = new RecordingPipeline(store);
    const rssBefore = process.resourceUsage().maxRSS;
    const t0 = performance.now();
    const summary = await importFiles([file], pipeline);
    const seconds = (performance.now() - t0) / 1000;
    const growthMb = (process.resourceUsage().maxRSS - rssBefore) / 1024;
    await pipeline.close();
    store.close();
    if (summary.accepted !== 2 || summary.rejected !== 1) throw new Error(`long-line import: ${summary.accepted} accepted, ${summary.rejected} rejected`);
    return { long_line_import_s: seconds, long_line_rss_growth_mb: growthMb };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
