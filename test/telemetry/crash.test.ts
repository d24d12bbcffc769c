/**
 * kill -9 in the middle of an import, with real processes: the CLI and the pipeline are
 * compiled once into a temp dir (no `npm run build` needed), a child imports a large file and
 * prints what `flush()` acknowledged, and is killed with SIGKILL mid-way.
 */
import { spawn, spawnSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arc, tempDb } from '../store/fixtures.js';

const REPO = resolve(import.meta.dirname, '../..');
const LINES = 300_000;
const ACK_EVERY = 20_000;

/** The child: streams the file through the real pipeline, printing `acked <line>` after each flush. */
const CHILD = `
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Store } from './dist/store/store.js';
import { RecordingPipeline } from './dist/telemetry/pipeline.js';
const [file, db, every] = process.argv.slice(2);
const store = Store.open(db);
const pipeline = new RecordingPipeline(store);
let n = 0;
for await (const line of createInterface({ input: createReadStream(file) })) {
  pipeline.pushLine(line, { file, line: ++n });
  if (n % Number(every) === 0) {
    await pipeline.flush();
    process.stdout.write('acked ' + n + '\\n');
  }
}
await pipeline.close();
store.close();
process.stdout.write('done\\n');
`;

function compile(outDir: string, dir: string): void {
  const tsconfig = join(dir, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(REPO, 'tsconfig.json'),
      compilerOptions: {
        rootDir: join(REPO, 'src'),
        outDir,
        declaration: false,
        sourceMap: false,
        noEmitOnError: false,
        typeRoots: [join(REPO, 'node_modules/@types')],
      },
      files: [join(REPO, 'src/cli/main.ts'), join(REPO, 'src/telemetry/pipeline.ts')],
      include: [],
    }),
  );
  const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
  // Type errors elsewhere in a work-in-progress tree must not stop the emit; a missing file will.
  spawnSync(process.execPath, [tsc, '-p', tsconfig], { encoding: 'utf8' });
}

describe('an import killed with SIGKILL', () => {
  const tmp = tempDb('vfio-sla-crash-');
  const file = join(tmp.dir, 'big.jsonl');
  const db = join(tmp.dir, 'crash.db');

  beforeAll(() => {
    compile(join(tmp.dir, 'dist'), tmp.dir);
    symlinkSync(join(REPO, 'node_modules'), join(tmp.dir, 'node_modules'), 'dir');
    symlinkSync(join(REPO, 'package.json'), join(tmp.dir, 'package.json')); // the CLI reads its version there
    writeFileSync(join(tmp.dir, 'child.mjs'), CHILD);
    const lines: string[] = [];
    for (let i = 1; i <= LINES; i++) lines.push(JSON.stringify(arc({ migrationId: `m${i % 7}`, startedAtMs: i, latencyMs: (i % 97) / 3 })));
    writeFileSync(file, lines.join('\n') + '\n');
  });
  afterAll(() => tmp.cleanup());

  it('keeps every acknowledged record, and a re-run completes the import without duplicates', async () => {
    const child = spawn(process.execPath, [join(tmp.dir, 'child.mjs'), file, db, String(ACK_EVERY)], { cwd: tmp.dir });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const acked = await new Promise<number>((resolveAck, reject) => {
      let out = '';
      let acks = 0;
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const seen = [...out.matchAll(/acked (\d+)\n/g)].map((m) => Number(m[1]));
        if (seen.length > acks) acks = seen.length;
        if (acks >= 3) {
          child.kill('SIGKILL');
          resolveAck(seen[seen.length - 1] ?? 0);
        }
      });
      child.on('exit', () => reject(new Error(`child exited before 3 acks: ${out} ${stderr}`)));
    });
    const signal = await new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, sig) => r(sig)));
    expect(signal).toBe('SIGKILL');

    const after = new Database(db, { readonly: true });
    const count = (sql: string, ...params: number[]): number => (after.prepare(sql).get(...params) as { n: number }).n;
    expect(count('SELECT count(*) AS n FROM arcs WHERE started_at_ms <= ?', acked)).toBe(acked);
    const survived = count('SELECT count(*) AS n FROM arcs');
    after.close();
    expect(survived).toBeLessThan(LINES);

    const rerun = spawnSync(process.execPath, [join(tmp.dir, 'dist/cli/main.js'), 'import', file, '--db', db, '--json'], {
      cwd: tmp.dir,
      encoding: 'utf8',
      env: { ...process.env, CI: 'true' },
    });
    expect(rerun.stderr).toBe('');
    expect(rerun.status).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ accepted: LINES, inserted: LINES - survived, duplicates: survived, rejected: 0 });
    const final = new Database(db, { readonly: true });
    expect((final.prepare('SELECT count(*) AS n, count(DISTINCT started_at_ms) AS d FROM arcs').get() as { n: number; d: number })).toEqual({ n: LINES, d: LINES });
    final.close();
  });
});
