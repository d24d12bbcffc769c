/**
 * `vfio-sla serve` as a real process, built once from the sources into a temp dir: start-up fit
 * and `fit` requests in a worker thread, SIGTERM drain, a live server refusing a second one, a
 * stale socket after SIGKILL.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tableCounts } from '../../src/store/inventory.js';
import { Store } from '../../src/store/store.js';
import { arc } from '../store/fixtures.js';
import { decideRequest, fillStore, LineClient, tempDir, waitUntil, type TempDir } from './helpers.js';

const ROOT = join(import.meta.dirname, '../..');
let pkg: TempDir;
let main: string;

beforeAll(() => {
  pkg = tempDir('vsla-cli-');
  // Type errors elsewhere in a work tree must not stop the emit: run tsc, then check its output.
  spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(pkg.dir, 'dist')], { stdio: 'ignore' });
  main = join(pkg.dir, 'dist/cli/main.js');
  if (!existsSync(main) || !existsSync(join(pkg.dir, 'dist/server/fit-worker.js'))) throw new Error(`build into ${pkg.dir} failed`);
  writeFileSync(join(pkg.dir, 'package.json'), '{"type":"module"}\n');
  symlinkSync(join(ROOT, 'node_modules'), join(pkg.dir, 'node_modules'));
  symlinkSync(join(ROOT, 'models'), join(pkg.dir, 'models'));
});
afterAll(() => pkg.cleanup());

let tmp: TempDir;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  tmp?.cleanup();
});

interface Served {
  readonly child: ChildProcess;
  stderr(): string;
  exited: Promise<number | null>;
}

function serve(args: readonly string[]): Served {
  const child = spawn(process.execPath, [main, 'serve', ...args], { cwd: tmp.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

async function listening(s: Served): Promise<void> {
  await Promise.race([waitUntil(() => s.stderr().includes('listening on')), s.exited.then((code) => Promise.reject(new Error(`exited ${code}: ${s.stderr()}`)))]);
}

describe('vfio-sla serve (child process)', () => {
  it('fits from the database at start and on request in a worker thread, answering others meanwhile', async () => {
    tmp = tempDir('vsla-cli-');
    fillStore(tmp.db, 60, 3);
    const s = serve(['--socket', tmp.socket, '--db', tmp.db]);
    await listening(s);
    expect(s.stderr()).toContain(`fitting the model from ${tmp.db}`);
    const a = await LineClient.connect(tmp.socket);
    const b = await LineClient.connect(tmp.socket);
    expect(await b.request({ id: 1, method: 'health' })).toMatchObject({ result: { model: { source: 'fit', name: 'serve' }, fit: { runsIn: 'worker', running: false } } });
    a.send({ id: 2, method: 'fit', params: { name: 'refit' } });
    // The fit runs in a worker: this connection is answered while it runs.
    await waitUntil(async () => ((await b.request({ id: 3, method: 'health' })).result?.['fit'] as { running: boolean }).running);
    expect(await b.request(decideRequest(4))).toMatchObject({ id: 4, result: { action: expect.any(String) } });
    expect(await a.next()).toMatchObject({ id: 2, result: { ranIn: 'worker', joined: false, model: { name: 'refit', source: 'fit', calibration: { n: 60 } } } });
    expect(await b.request({ id: 5, method: 'model' })).toMatchObject({ result: { name: 'refit' } });
    a.close();
    b.close();
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('drains on SIGTERM: commits every accepted record, removes the socket, exits 0', async () => {
    tmp = tempDir('vsla-cli-');
    const s = serve(['--socket', tmp.socket, '--db', tmp.db, '--model', join(ROOT, 'models/priors.json')]);
    await listening(s);
    expect(lstatSync(tmp.socket).mode & 0o777).toBe(0o600);
    const c = await LineClient.connect(tmp.socket);
    const records = Array.from({ length: 500 }, (_, i) => arc({ migrationId: 'drain', deviceId: `d${i}` }));
    expect(await c.request({ id: 1, method: 'record', params: { records } })).toMatchObject({ result: { accepted: 500, committed: false } });
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(await c.nextLine()).toBeNull();
    expect(existsSync(tmp.socket)).toBe(false);
    expect(s.stderr()).toMatch(/SIGTERM: draining\n.*stopped; committed 500 records and 0 rejects\n$/s);
    const store = Store.open(tmp.db, { readonly: true });
    expect(tableCounts(store).arcs).toBe(500);
    store.close();
  });

  it('refuses to start next to a live server, and replaces the socket a killed one left behind', async () => {
    tmp = tempDir('vsla-cli-');
    const first = serve(['--socket', tmp.socket, '--no-db']);
    await listening(first);
    const second = serve(['--socket', tmp.socket, '--no-db']);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(`E_SOCKET_IN_USE: a server is already answering on ${tmp.socket}`);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(lstatSync(tmp.socket).isSocket()).toBe(true);
    const third = serve(['--socket', tmp.socket, '--no-db']);
    await listening(third);
    const c = await LineClient.connect(tmp.socket);
    expect(await c.request({ id: 1, method: 'health' })).toMatchObject({ result: { pid: third.child.pid, model: { source: 'priors', priorsOnly: true } } });
    c.close();
    third.child.kill('SIGINT');
    expect(await third.exited).toBe(0);
  });

  it('explains a usage error with exit 2', async () => {
    tmp = tempDir('vsla-cli-');
    const s = serve(['--db', tmp.db]);
    expect(await s.exited).toBe(2);
    expect(s.stderr()).toContain('--socket <path> is required');
  });

  it('fits in a worker when embedded in a `node --input-type=module -e` script (the worker does not inherit the parent entry flags)', () => {
    tmp = tempDir('vsla-cli-');
    fillStore(tmp.db, 30, 4);
    const fitter = pathToFileURL(join(pkg.dir, 'dist/server/fitter.js')).href;
    const job = { dbPath: tmp.db, priorsPath: null, name: 'embedded', exclude: [], fittedAt: '2026-01-01T00:00:00Z' };
    const script = `import { workerFitter } from ${JSON.stringify(fitter)};
const m = await workerFitter().fit(${JSON.stringify(job)});
console.log(JSON.stringify({ name: m.name, n: m.calibration?.n }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: tmp.dir, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ name: 'embedded', n: 30 });
  });
});
