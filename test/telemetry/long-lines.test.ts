/**
 * Issue 18, item 5: the importer rescanned its carry-over for every 64 KiB chunk (one 50 MB
 * line: 121 s, 555 MB) and the QMP splitter did the same. All three splitters are now the one
 * linear `LineFramer` with a length cap and a clear reject. (Speed is measured in
 * `bench/long-line.ts`, not asserted here.)
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { LineSplitter } from '../../src/qemu/qmp-framing.js';
import { MAX_RECORD_LINE_BYTES } from '../../src/app/import-files.js';
import { captureIo } from '../cli/io.js';
import { arc, tempDb } from '../store/fixtures.js';

let tmp: ReturnType<typeof tempDb>;
beforeEach(() => {
  tmp = tempDb('vfio-sla-lines-');
});
afterEach(() => tmp.cleanup());

interface Summary {
  accepted: number;
  rejected: number;
  errors: { line: number; reason: string }[];
}

async function importFile(file: string): Promise<{ code: number; summary: Summary }> {
  const io = captureIo(tmp.dir);
  const code = await runCli(['import', file, '--db', tmp.db, '--json'], io);
  return { code, summary: JSON.parse(io.out()) as Summary };
}

describe('long lines', () => {
  it('a 20 MB line in a records file is one reject naming its line and the limit; the lines around it import', async () => {
    const file = join(tmp.dir, 'long.jsonl');
    const out = createWriteStream(file);
    out.write(`${JSON.stringify(arc({ startedAtMs: 1 }))}\n{"kind":"arc","migrationId":"`);
    const block = 'x'.repeat(1 << 20);
    for (let i = 0; i < 20; i++) out.write(block);
    out.write(`"}\n${JSON.stringify(arc({ startedAtMs: 2 }))}\n`);
    out.end();
    await once(out, 'finish');
    const { code, summary } = await importFile(file);
    expect(code).toBe(1);
    expect([summary.accepted, summary.rejected]).toEqual([2, 1]);
    expect(summary.errors).toEqual([{ file, line: 2, reason: `line longer than ${MAX_RECORD_LINE_BYTES} bytes: not a record (skipped to its end)` }]);
  });

  it('an unterminated over-long last line is one reject too', async () => {
    const file = join(tmp.dir, 'tail.jsonl');
    writeFileSync(file, `${JSON.stringify(arc())}\n${'y'.repeat(MAX_RECORD_LINE_BYTES + 1)}`);
    const { summary } = await importFile(file);
    expect([summary.accepted, summary.rejected, summary.errors[0]?.line]).toEqual([1, 1, 2]);
  });

  it('a UTF-8 byte order mark before line 1 does not reject it', async () => {
    const file = join(tmp.dir, 'bom.jsonl');
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${JSON.stringify(arc())}\n`)]));
    const { code, summary } = await importFile(file);
    expect([code, summary.accepted, summary.rejected]).toEqual([0, 1, 0]);
  });

  it('the QMP splitter refuses a whole line over its limit even when it arrives in one read', () => {
    const s = new LineSplitter(16);
    expect(() => s.push(`{"return": "${'z'.repeat(32)}"}\r\n`)).toThrow(/QMP line longer than 16 bytes/);
    expect(s.push('{"a":1}\r\n')).toEqual(['{"a":1}']);
  });

  it('the QMP splitter keeps a UTF-8 character split across two reads whole', () => {
    const s = new LineSplitter();
    const bytes = Buffer.from('{"event":"ÆØ€"}\r\n', 'utf8');
    expect(s.push(bytes.subarray(0, 11))).toEqual([]);
    expect(s.push(bytes.subarray(11))).toEqual(['{"event":"ÆØ€"}']);
  });
});
