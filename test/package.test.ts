/**
 * The package as a user gets it: `npm pack` of a clean checkout (plus a fitted model the user
 * made, which must not ship), installed into a fresh project from the tarball, then
 *  - the README's TypeScript blocks type-check under `tsc --init`'s settings (strict, nodenext);
 *  - with `--omit=optional`, `vfio-sla/core` decides and the CLI names the optional package a
 *    command needs.
 * Installs use npm's cache first (`--prefer-offline`; CI's `npm ci` fills it).
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithout } from './helpers/ci.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const TSC = join(ROOT, 'node_modules/.bin/tsc');
const NPM_QUIET = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];
const PACK_MS = 300_000;

let tmp: string;
let tarball: string;
let packed: string[];

/** A fresh ESM project with `vfio-sla` installed from the tarball. */
async function project(name: string, npmArgs: string[]): Promise<string> {
  const dir = join(tmp, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  await run('npm', ['install', ...NPM_QUIET, ...npmArgs, tarball], { cwd: dir, maxBuffer: 1 << 24 });
  return dir;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'vfio-sla-pack-'));
  // A clean checkout (no dist/) with a user's fitted model beside the priors.
  const checkout = join(tmp, 'checkout');
  mkdirSync(checkout);
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'src', 'models', 'examples', 'native']) {
    cpSync(join(ROOT, f), join(checkout, f), { recursive: true });
  }
  writeFileSync(join(checkout, 'models/host.json'), JSON.stringify({ provenance: '/home/someone/data/vfio-sla.db' }));
  symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', tmp, ...NPM_QUIET], { cwd: checkout, maxBuffer: 1 << 24 });
  const [info] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(tmp, info?.filename ?? '');
  packed = info?.files.map((f) => f.path) ?? [];
}, PACK_MS);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('npm pack', () => {
  it('builds dist/ from a clean checkout and ships the LICENSE, the priors, both entries and the peer-credential source serve builds', () => {
    expect(existsSync(tarball)).toBe(true);
    expect(packed).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'models/priors.json', 'dist/index.js', 'dist/index.d.ts', 'dist/core.js', 'dist/core.d.ts', 'dist/cli/main.js', 'native/peer-cred.c', 'native/sqlite-columns.c']));
    expect(packed.filter((f) => f.startsWith('native/'))).toEqual(['native/peer-cred.c', 'native/sqlite-columns.c']); // not the VFIO helper
  });

  it("leaves out the user's fitted models, the sources and the tests", () => {
    expect(packed.filter((f) => f.startsWith('models/'))).toEqual(['models/priors.json']);
    expect(packed.filter((f) => /^(src|test|bench|data)\//.test(f))).toEqual([]);
  });
});

describe('installed from the tarball', () => {
  it("type-checks the README's TypeScript blocks with tsc --init's settings", async () => {
    const dir = await project('readme', ['--ignore-scripts']);
    await run(TSC, ['--init'], { cwd: dir });
    const blocks = [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    blocks.forEach((b, i) => writeFileSync(join(dir, `readme-${i + 1}.ts`), b));
    const config = readFileSync(join(dir, 'tsconfig.json'), 'utf8');
    expect(config).toMatch(/"strict": true/);
    expect(config).toMatch(/"module": "nodenext"/);
    const r = await run(TSC, ['-p', 'tsconfig.json', '--noEmit'], { cwd: dir }).then(
      () => '',
      (e: { stdout: string }) => e.stdout,
    );
    expect(r).toBe('');
  }, PACK_MS);

  it('with --omit=optional: vfio-sla/core decides, and the CLI names the package a command needs', async () => {
    const dir = await project('light', ['--omit=optional']);
    expect(readdirSync(join(dir, 'node_modules')).sort()).not.toEqual(expect.arrayContaining(['better-sqlite3']));
    const script = `import { compileModel, decide, loadModel, DEFAULT_PRIORS_FILE, MigState } from 'vfio-sla/core';
      const d = decide({ devices: [], ramRemainingBytes: 0, ramDirtyBytesPerS: 0, precopyBandwidthBytesPerS: 1e9, elapsedMs: 0 },
        compileModel(loadModel(DEFAULT_PRIORS_FILE)), { deadlineMs: 60000, alpha: 0.01, budgetMs: Infinity });
      console.log(d.action, MigState.STOP_COPY);`;
    const { stdout } = await run('node', ['--input-type=module', '-e', script], { cwd: dir });
    expect(stdout).toBe('commit 3\n');
    const stats = await run('npx', ['--no-install', 'vfio-sla', 'import', join(ROOT, 'README.md'), '--db', 'x.db'], { cwd: dir }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(stats.code).toBe(1);
    expect(stats.stderr).toContain("E_MISSING_DEPENDENCY: vfio-sla's SQLite store needs better-sqlite3, an optional dependency of vfio-sla that is not installed");
    // serve finds the peer-credential source beside dist/ and builds it (needs cc and Node's headers, as CI has).
    const loader = pathToFileURL(join(dir, 'node_modules/vfio-sla/dist/server/peer-cred.js')).href;
    const peer = await run('node', ['--input-type=module', '-e', `const m = await import(${JSON.stringify(loader)});
      const r = m.loadPeerCredReader({ cacheDir: ${JSON.stringify(join(dir, 'cache'))} }); console.log(r.available ? 'available' : r.reason);`], { cwd: dir });
    const built = peer.stdout.trim();
    if (!skipWithout(built === 'available', 'the packaged peer-credential build check', built)) expect(built).toBe('available');
    const version = await run('npx', ['--no-install', 'vfio-sla', '--version'], { cwd: dir });
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  }, PACK_MS);
});
