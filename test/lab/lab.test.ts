/**
 * The VFIO lab itself: the guest boots the Debian 6.12 kernel, loads vfio, vfio_iommu_type1,
 * mdev and the out-of-tree mtty, and our helper reaches an mtty mdev through the group/container
 * API. The figures asserted are mtty's (`samples/vfio-mdev/mtty.c`): migration flags
 * STOP_COPY|P2P|PRE_COPY, `mtty_data_size()` = 24-byte header + 36 bytes per port, and
 * PRECOPY_INFO's initial bytes = the header while nothing has been read.
 */
import { describe, expect, it } from 'vitest';
import { MigFlags, MigState } from '../../src/fsm/index.js';
import { VfioDevice } from '../../src/vfio/vfio-device.js';
import { HelperError, VfioHelperClient } from '../../src/vfio/vfio-helper-client.js';
import { DeviceError } from '../../src/device/index.js';
import { SKIP_LAB, createMdpy, createMtty, labTitle, useLab } from './lab-fixture.js';
import { prepareLab } from './vfio-guest.js';
import { findLabTools } from './kernel-lab.js';

const MTTY_HEADER_BYTES = 24;
const MTTY_PORT_BYTES = 36;

describe.skipIf(SKIP_LAB)(labTitle('VFIO lab: mtty under a real kernel'), () => {
  const lab = useLab();

  it('the helper runs the lab kernel', async () => {
    const hello = await lab().client.request('hello');
    expect(hello['kernel']).toBe(lab().guest.lab.packages.release);
  });

  it('an mtty mdev opens with STOP_COPY|P2P|PRE_COPY, RUNNING, and MIG_DATA_SIZE of two ports', async () => {
    const dev = await VfioDevice.open(lab().client, await createMtty(lab().client), { model: 'mtty' });
    expect(dev.flags).toBe(MigFlags.STOP_COPY | MigFlags.P2P | MigFlags.PRE_COPY);
    expect(dev.getState()).toBe(MigState.RUNNING);
    expect(await dev.stopCopyBytes()).toBe(MTTY_HEADER_BYTES + 2 * MTTY_PORT_BYTES);
    await dev.setState(MigState.PRE_COPY);
    expect(await dev.precopyInfo()).toEqual({ initialBytes: MTTY_HEADER_BYTES, dirtyBytes: 0 });
    await dev.setState(MigState.RUNNING);
    await dev.close();
  });

  it('opening a device already open is EBUSY and changes nothing', async () => {
    const uuid = await createMtty(lab().client);
    const dev = await VfioDevice.open(lab().client, uuid, { model: 'mtty' });
    await dev.setState(MigState.PRE_COPY);
    const second = await VfioDevice.open(lab().client, uuid, { model: 'mtty' }).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(HelperError);
    expect((second as HelperError).code).toBe('EBUSY');
    expect(await dev.refreshState()).toBe(MigState.PRE_COPY);
    await dev.setState(MigState.RUNNING);
    await dev.close();
  });

  it('a device without migration support (mdpy) is refused at open with the kernel errno', async () => {
    const e = await VfioDevice.open(lab().client, await createMdpy(lab().client), { model: 'mdpy' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HelperError);
    expect((e as HelperError).code).toBe('ENOTTY');
    expect((e as HelperError).message).toMatch(/no migration support/);
  });

  it('a device that does not exist is ENOENT', async () => {
    const e = await VfioDevice.open(lab().client, '00000000-0000-0000-0000-000000000000', { model: 'mtty' }).catch((x: unknown) => x);
    expect((e as HelperError).code).toBe('ENOENT');
  });

  it('the STOP_COPY stream continues on the PRE_COPY data fd, and PRECOPY_INFO there is EINVAL', async () => {
    const seen: string[] = [];
    const dev = await VfioDevice.open(lab().client, await createMtty(lab().client), {
      model: 'mtty',
      observe: (o) => o.op === 'set' && seen.push(`${o.after}:${o.dataFd === true ? 'fd' : 'no fd'}`),
    });
    await dev.setState(MigState.PRE_COPY);
    expect((await dev.readData(MTTY_HEADER_BYTES)).length).toBe(MTTY_HEADER_BYTES);
    expect((await dev.precopyInfo()).initialBytes).toBe(0);
    await dev.setState(MigState.PRE_COPY_P2P);
    await dev.setState(MigState.STOP_COPY);
    expect(seen).toEqual([`${MigState.PRE_COPY}:fd`, `${MigState.PRE_COPY_P2P}:no fd`, `${MigState.STOP_COPY}:no fd`]);
    const e = await dev.precopyInfo().catch((x: unknown) => x);
    expect((e as DeviceError).code).toBe('EINVAL');
    expect((await dev.readToEnd()).length).toBe(2 * MTTY_PORT_BYTES);
    await dev.setState(MigState.STOP);
    await dev.setState(MigState.RUNNING);
    await dev.close();
  });

  it('a failed SET carries the kernel errno and getState() is the state the kernel reports', async () => {
    const dev = await VfioDevice.open(lab().client, await createMtty(lab().client), { model: 'mtty' });
    await dev.setState(MigState.RESUMING);
    // Nothing written: mtty_load_state() refuses RESUMING -> STOP with EINVAL, the device stays put.
    const e = await dev.setState(MigState.RUNNING).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DeviceError);
    expect((e as DeviceError).code).toBe('EINVAL');
    expect((e as DeviceError).stateAfter).toBe(MigState.RESUMING);
    expect(dev.getState()).toBe(MigState.RESUMING);
    expect(await dev.refreshState()).toBe(MigState.RESUMING);
    expect(await dev.reset()).toBe(MigState.RUNNING);
    await dev.close();
  });
});

describe.skipIf(SKIP_LAB)(labTitle('vfio-helper on this host over stdin/stdout'), () => {
  it('answers hello with this kernel and reports ENOENT for a device this host lacks', async () => {
    const found = findLabTools();
    if (!found.ok) throw new Error(found.missing.join('; '));
    const { helper } = await prepareLab(found.tools);
    const client = VfioHelperClient.spawn(helper);
    try {
      const hello = await client.request('hello');
      expect(hello['protocol']).toBe(1);
      expect(typeof hello['kernel']).toBe('string');
      const e = await client.request('open', { dev: '00000000-0000-0000-0000-00000000dead' }).catch((x: unknown) => x);
      expect((e as HelperError).code).toBe('ENOENT');
      const bad = await client.request('nonsense').catch((x: unknown) => x);
      expect((bad as HelperError).code).toBe('EINVAL');
    } finally {
      await client.close();
    }
  }, 900_000);
});
