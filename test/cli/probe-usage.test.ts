import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { connect } from 'node:net';
import { VfioHelperClient } from '../../src/vfio/vfio-helper-client.js';
import { startFakeHelper } from './fake-helper.js';
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

describe('vfio-sla probe against a stand-in helper', () => {
  it('migrates every cycle and exits 0 when the FSM agrees', async () => {
    const sock = join(dir, 'ok.sock');
    const helper = await startFakeHelper(sock);
    try {
      const io = captureIo(dir);
      const code = await runCli([...base, '--helper-socket', sock, '--db', join(dir, 'ok.db'), '--cycles', '3', '--deadline', '5s', '--conformance'], io);
      expect(io.err()).toBe('');
      expect(code).toBe(0);
      expect(io.out()).toMatch(/mtty: 3 cycles, 3 migrated, 0 failed/);
    } finally {
      await helper.close();
    }
  });

  it('exits 5 with the pair marked when the kernel answers a pair unlike the FSM', async () => {
    const sock = join(dir, 'quirk.sock');
    const helper = await startFakeHelper(sock, { from: 3, to: 6 }); // STOP_COPY -> PRE_COPY accepted
    try {
      const io = captureIo(dir);
      expect(await runCli([...base, '--helper-socket', sock, '--db', join(dir, 'q.db'), '--cycles', '1', '--deadline', '5s', '--conformance'], io)).toBe(5);
      expect(io.out()).toMatch(/\| STOP_COPY \|.*! kernel PRE_COPY, FSM EINVAL \(STOP_COPY\)/);
    } finally {
      await helper.close();
    }
  });

  it('a device already open elsewhere is exit 3 (EBUSY), a missing one exit 3 too', async () => {
    const sock = join(dir, 'busy.sock');
    const helper = await startFakeHelper(sock);
    const socket = connect(sock);
    await new Promise((resolve) => socket.once('connect', resolve));
    const holder = new VfioHelperClient(socket);
    try {
      await holder.request('open', { dev: 'held' });
      const busy = captureIo(dir);
      expect(await runCli(['probe', '--device', 'held', '--destination', 'b', '--model', 'm', '--helper-socket', sock, '--db', join(dir, 'b.db')], busy)).toBe(3);
      expect(busy.err()).toMatch(/in use/);
      const missing = captureIo(dir);
      expect(await runCli(['probe', '--device', 'missing-1', '--destination', 'b', '--model', 'm', '--helper-socket', sock, '--db', join(dir, 'b.db')], missing)).toBe(3);
      expect(missing.err()).toMatch(/no such device/);
    } finally {
      await holder.close();
      await helper.close();
    }
  });
});
