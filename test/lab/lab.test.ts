/**
 * The VFIO lab itself: the guest boots the Debian 6.12 kernel, loads vfio, vfio_iommu_type1,
 * mdev and the out-of-tree mtty, and our helper reaches an mtty mdev through the group/container
 * API. The figures asserted are mtty's (`samples/vfio-mdev/mtty.c`): migration flags
 * STOP_COPY|P2P|PRE_COPY, `mtty_data_size()` = 24-byte header + 36 bytes per port, and
 * PRECOPY_INFO's initial bytes = the header while nothing has been read.
 */
import { describe, expect, it } from 'vitest';
import { MigFlags, MigState } from '../../src/fsm/index.js';
import { VfioDevice } from '../../src/device/vfio-device.js';
import { HelperError } from '../../src/device/vfio-helper-client.js';
import { SKIP_LAB, createMtty, labTitle, useLab } from './lab-fixture.js';

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

  it('a device that does not exist is ENOENT', async () => {
    const e = await VfioDevice.open(lab().client, '00000000-0000-0000-0000-000000000000', { model: 'mtty' }).catch((x: unknown) => x);
    expect((e as HelperError).code).toBe('ENOENT');
  });
});
