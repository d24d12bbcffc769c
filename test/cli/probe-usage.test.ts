import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { captureIo } from './io.js';

const dir = mkdtempSync(join(tmpdir(), 'vfio-sla-probe-usage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base = ['probe', '--device', 'a', '--destination', 'b', '--model', 'mtty'];

describe('vfio-sla probe arguments', () => {
  it.each([
    [['probe', '--destination', 'b', '--model', 'm'], /--device is required/],
    [['probe', '--device', 'a', '--destination', 'a', '--model', 'm'], /two different instances/],
    [[...base, '--cycles', '0'], /--cycles must be a positive integer/],
    [[...base, '--helper', 'x', '--helper-socket', 'y'], /exclude each other/],
    [[...base, '--deadline', 'soon'], /--deadline/],
  ])('%j is a usage error (exit 2)', async (argv, message) => {
    const io = captureIo(dir);
    expect(await runCli(argv, io)).toBe(2);
    expect(io.err()).toMatch(message);
  });

  it('refuses a --db that exists and is not a regular file', async () => {
    mkdirSync(join(dir, 'a-dir'));
    const io = captureIo(dir);
    expect(await runCli([...base, '--db', join(dir, 'a-dir')], io)).toBe(2);
    expect(io.err()).toMatch(/not a regular file/);
  });

  it('a helper socket nobody listens on is exit 1 naming it, and no database is created', async () => {
    const io = captureIo(dir);
    expect(await runCli([...base, '--helper-socket', join(dir, 'none.sock'), '--db', join(dir, 'p.db')], io)).toBe(1);
    expect(io.err()).toMatch(/E_HELPER: cannot connect to the helper at .*none\.sock/);
    expect(existsSync(join(dir, 'p.db'))).toBe(false);
  });

  it('--help documents the exit statuses', async () => {
    const io = captureIo(dir);
    expect(await runCli(['probe', '--help'], io)).toBe(0);
    expect(io.out()).toMatch(/3 the device cannot be probed/);
  });
});
