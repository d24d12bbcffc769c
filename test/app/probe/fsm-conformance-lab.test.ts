/**
 * `nextState`/`planPath` against the Linux 6.12 kernel and its mtty driver: every (current,
 * target) pair for mtty's flags (STOP_COPY|P2P|PRE_COPY), each request one real
 * `VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE` SET. The table is printed for the notes.
 */
import { describe, expect, it } from 'vitest';
import { MigState, stateName } from '../../../src/fsm/index.js';
import { VfioDevice } from '../../../src/vfio/vfio-device.js';
import { conformanceTable, fsmConformance } from '../../../src/app/probe/fsm-conformance.js';
import { SKIP_LAB, createMtty, labTitle, useLab } from '../../lab/lab-fixture.js';

describe.skipIf(SKIP_LAB)(labTitle('FSM conformance against a live kernel (mtty)'), () => {
  const lab = useLab();

  it('the kernel answers every (current, target) pair as planPath predicts', async () => {
    const { client, guest } = lab();
    const device = await VfioDevice.open(client, await createMtty(client), { model: 'mtty' });
    const source = await VfioDevice.open(client, await createMtty(client), { model: 'mtty' });
    await source.setState(MigState.STOP_COPY);
    const stream = await source.readToEnd();
    await source.setState(MigState.STOP);
    await source.setState(MigState.RUNNING);
    expect(stream.length).toBe(await source.stopCopyBytes());

    const rows = await fsmConformance(device, stream);
    console.info(`FSM conformance, kernel ${guest.lab.packages.release}, mtty flags ${device.flags}:\n${conformanceTable(rows)}`);
    expect(rows).toHaveLength(7 * 8);
    const disagreements = rows.filter((r) => !r.agrees).map((r) => `${stateName(r.from)}->${stateName(r.target)}`);
    expect(disagreements).toEqual([]);
    // The 6.12.96 fix: STOP_COPY -> PRE_COPY is no arc (EINVAL, device stays in STOP_COPY).
    const back = rows.find((r) => r.from === MigState.STOP_COPY && r.target === MigState.PRE_COPY);
    expect(back?.kernel).toEqual({ ok: false, errno: 'EINVAL', state: MigState.STOP_COPY });
    expect(device.getState()).toBe(MigState.RUNNING);
    await Promise.all([device.close(), source.close()]);
  });
});
