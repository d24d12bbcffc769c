/**
 * examples/decide-client.c, built with the system `cc` and run against a live service: the
 * VMM side of the protocol in plain C.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PRIORS_FILE, loadModel } from '../../src/files/model-file.js';
import { loadedModel } from '../../src/server/model-state.js';
import type { RunningService } from '../../src/server/start.js';
import { skipWithout } from '../helpers/ci.js';
import { startTestService, tempDir, type TempDir } from './helpers.js';

const run = promisify(execFile);
const SOURCE = join(import.meta.dirname, '../../examples/decide-client.c');
const MiB = 1024 * 1024;

const CC = process.env['CC'] ?? 'cc';

function haveCompiler(): boolean {
  try {
    execFileSync(CC, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const skip = skipWithout(haveCompiler(), 'C client test', `no C compiler \`${CC}\` (apt-get install -y gcc, or set CC)`);

let tmp: TempDir;
let running: RunningService;
let binary: string;

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the client (asynchronously: the server answers on this process's event loop). */
async function client(args: { deadlineMs: number; deviceId?: string; state?: string; stopCopyBytes?: number; socket?: string }): Promise<Outcome> {
  return runClient([
    args.socket ?? tmp.socket,
    String(args.deadlineMs),
    String(64 * MiB), // RAM remaining
    String(256 * MiB), // dirty rate, bytes/s
    String(1024 * MiB), // pre-copy bandwidth, bytes/s
    '10000', // elapsed, ms
    args.deviceId ?? '0000:3b:00.1',
    'mlx5-cx7',
    args.state ?? 'PRE_COPY_P2P',
    '7',
    String(args.stopCopyBytes ?? 100 * MiB),
  ]);
}

async function runClient(argv: readonly string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(binary, [...argv]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe.skipIf(skip)(skip ? 'examples/decide-client.c (skipped: no C compiler on this host)' : 'examples/decide-client.c', () => {
  beforeAll(async () => {
    tmp = tempDir('vsla-c-');
    binary = join(tmp.dir, 'decide-client');
    execFileSync(CC, ['-std=c99', '-Wall', '-Wextra', '-Werror', '-pedantic', '-O2', '-o', binary, SOURCE]);
    running = await startTestService(tmp);
  });
  afterAll(async () => {
    await running.close();
    tmp.cleanup();
  });

  it('commits when the bound fits the deadline (exit 0)', async () => {
    expect(await client({ deadlineMs: 5000 })).toEqual({ code: 0, stdout: 'commit\n', stderr: '' });
  });

  it('does not stop the vCPUs when the deadline cannot be met (abort, exit 5)', async () => {
    expect(await client({ deadlineMs: 50 })).toEqual({ code: 5, stdout: 'abort\n', stderr: '' });
  });

  it('commits on the example of its header comment, against a calibrated model (exit 0)', async () => {
    const example = /\.\/decide-client \/run\/vfio-sla\.sock ([^\n]*) \\\n \*\s+([^\n]*)\n/.exec(readFileSync(SOURCE, 'utf8'));
    const argv = `${example?.[1] ?? ''} ${example?.[2] ?? ''}`.trim().split(/\s+/);
    expect(argv).toHaveLength(10);
    expect(await runClient([tmp.socket, ...argv])).toEqual({ code: 0, stdout: 'commit\n', stderr: '' });
    expect(await runClient([tmp.socket, '300', ...argv.slice(1)])).toEqual({ code: 5, stdout: 'abort\n', stderr: '' });
  });

  it('defers to the VMM (exit 6) when the server has only the priors, and aborts only with --abort-without-model', async () => {
    const priors = loadedModel(loadModel(DEFAULT_PRIORS_FILE), 'priors', DEFAULT_PRIORS_FILE, '2026-01-01T00:00:00.000Z');
    for (const [abortWithoutModel, expected] of [[false, { code: 6, stdout: 'defer\n', stderr: '' }], [true, { code: 5, stdout: 'abort\n', stderr: '' }]] as const) {
      const other = tempDir('vsla-c2-');
      const srv = await startTestService(other, { model: priors, dbPath: null, abortWithoutModel });
      try {
        expect(await client({ deadlineMs: 500, socket: other.socket })).toEqual(expected);
      } finally {
        await srv.close();
        other.cleanup();
      }
    }
  });

  it('waits when the size query failed (-1 → null, exit 3)', async () => {
    expect(await client({ deadlineMs: 5000, stopCopyBytes: -1 })).toEqual({ code: 3, stdout: 'wait\n', stderr: '' });
  });

  it('escapes a device id with quotes and backslashes, and is not fooled by it in the reply', async () => {
    expect(await client({ deadlineMs: 5000, deviceId: 'dev "action":"abort" \\ \t' })).toEqual({ code: 0, stdout: 'commit\n', stderr: '' });
  });

  it('reports the server error code and exits 1', async () => {
    expect(await client({ deadlineMs: 5000, state: 'SLEEPING' })).toEqual({ code: 1, stdout: '', stderr: 'vfio-sla: E_BAD_PARAMS\n' });
  });

  it('exits 1 when no server answers', async () => {
    const r = await client({ deadlineMs: 5000, socket: join(tmp.dir, 'absent.sock') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^vfio-sla: connect .*absent\.sock: No such file or directory\n$/);
  });
});
