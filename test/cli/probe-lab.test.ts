/**
 * `vfio-sla probe` against the VFIO lab: 50 loopback cycles of a real mtty device through the
 * helper's virtio-serial socket, the table and exit codes; a device in use is refused (exit 3)
 * and left as it was. The per-arc table is printed for the notes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { VfioHelperClient } from '../../src/vfio/vfio-helper-client.js';
import { MigState } from '../../src/fsm/index.js';
import { iterateArcs } from '../../src/store/index.js';
import { openStore } from '../../src/store/store.js';
import { SKIP_LAB, createMdpy, createMtty, labTitle, useLab } from '../lab/lab-fixture.js';
import { captureIo } from './io.js';

async function reconnect(path: string): Promise<VfioHelperClient> {
  const socket = connect(path);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return new VfioHelperClient(socket);
}

describe.skipIf(SKIP_LAB)(labTitle('vfio-sla probe on a real mtty device'), () => {
  const lab = useLab();
  const dir = mkdtempSync(join(tmpdir(), 'vfio-sla-probe-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a device in use or without migration support (exit 3, nothing changed), then probes 50 cycles (exit 0) into the store', async () => {
    const { client, guest } = lab();
    const [a, b, busy] = [await createMtty(client), await createMtty(client), await createMtty(client)];
    const display = await createMdpy(client);
    // Someone else holds `busy` open, mid-migration.
    const held = await client.request('open', { dev: busy });
    await client.request('set', { h: held['h'] as number, state: MigState.PRE_COPY });
    await client.close();

    const db = join(dir, 'probe.db');
    const refused = captureIo(dir);
    const common = ['--destination', b, '--model', 'mtty', '--helper-socket', guest.socketPath, '--db', db];
    expect(await runCli(['probe', '--device', busy, ...common, '--cycles', '3'], refused)).toBe(3);
    expect(refused.err()).toMatch(/in use.*EBUSY/);
    const noMigration = captureIo(dir);
    expect(await runCli(['probe', '--device', display, ...common, '--cycles', '3'], noMigration)).toBe(3);
    expect(noMigration.err()).toMatch(/no VFIO migration support.*ENOTTY/);

    const io = captureIo(dir);
    const started = performance.now();
    const code = await runCli(['probe', '--device', a, ...common, '--cycles', '50', '--deadline', '5s', '--conformance'], io);
    console.info(`vfio-sla probe, 50 cycles in ${((performance.now() - started) / 1000).toFixed(1)} s:\n${io.out()}${io.err()}`);
    expect(code).toBe(0);
    expect(io.out()).toMatch(/mtty: 50 cycles, 50 migrated, 0 failed/);
    expect(io.out()).toMatch(/\| STOP_COPY \| EINVAL \(STOP_COPY\) \| STOP \| RUNNING \|/);
    expect(io.out()).not.toMatch(/\| ! /);
    // host-side p50 and p99, then the ioctl's p50/p99 as the helper timed it in the guest
    expect(io.out()).toMatch(/PRE_COPY_P2P>STOP_COPY\s+50\s+[\d.]+\s+[\d.]+\s+[\d.]+\/[\d.]+\s+fixed [\d.]+ ms; no size spread/);

    const store = openStore(db, { readonly: true });
    try {
      const stopCopy = [...iterateArcs(store, { deviceModel: 'mtty', arc: 'PRE_COPY_P2P>STOP_COPY' })];
      expect(stopCopy).toHaveLength(50);
      expect(new Set(stopCopy.map((r) => r.stopCopyBytes))).toEqual(new Set([96]));
    } finally {
      store.close();
    }

    const after = await reconnect(guest.socketPath);
    try {
      expect((await after.request('get', { h: held['h'] as number }))['state']).toBe(MigState.PRE_COPY);
      await after.request('set', { h: held['h'] as number, state: MigState.RUNNING });
    } finally {
      await after.close();
    }
  });

  it('a device that does not exist is exit 3 with the reason', async () => {
    const io = captureIo(dir);
    const code = await runCli(
      ['probe', '--device', '00000000-0000-0000-0000-000000000001', '--destination', '00000000-0000-0000-0000-000000000002', '--model', 'mtty', '--helper-socket', lab().guest.socketPath, '--db', join(dir, 'x.db')],
      io,
    );
    expect(code).toBe(3);
    expect(io.err()).toMatch(/no such device/);
  });
});
