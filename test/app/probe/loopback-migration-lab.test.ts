/**
 * DeadlineSetState on real devices: a real mtty device's state migrated to a second mtty
 * instance under Linux 6.12, decided by decide(), every arc and size recorded through the RxJS
 * pipeline into a real SQLite file, a model fitted from those records; then an overrun and a
 * corrupted stream, whose unwinds leave no device stopped — as the kernel itself reports.
 *
 * mtty's UART (`samples/vfio-mdev/mtty.c`, `handle_bar_write()`/`handle_bar_read()`): bytes
 * written to THR (BAR0 offset 0, DLAB clear) wait in a 16-byte loop-back FIFO until read from RBR
 * (offset 0); LSR (offset 5) bit 0 says data is ready; LCR is offset 3. All of it is in the
 * migration stream (`struct serial_port`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VfioDevice } from '../../../src/vfio/vfio-device.js';
import { buildPriors } from '../../../src/estimators/priors.js';
import { MigState } from '../../../src/fsm/index.js';
import { realTimeClock } from '../../../src/governor/clock.js';
import { migrateLoopback, type StreamDevice } from '../../../src/app/probe/loopback-migration.js';
import { priorsFor, runProbe, storedRecords } from '../../../src/app/probe/probe.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { fitModel } from '../../../src/estimators/fit.js';
import { countingRecorder, type CountingRecorder } from '../../helpers/recording.js';
import { SKIP_LAB, createMtty, labTitle, useLab } from '../../lab/lab-fixture.js';

const UART_RBR_THR = 0;
const UART_LCR = 3;
const UART_LSR = 5;
const LSR_DATA_READY = 0x01;

/**
 * `device`, except that the request for `slowTo` takes `ms` on `clock` (a device command that
 * stalls, as mlx5 firmware can: published-numbers.md §9.3). The request itself is real.
 */
function stallingArc(device: VfioDevice, slowTo: MigState, clock: { nowMs: number }, ms: number): StreamDevice {
  return new Proxy(device, {
    get(target, prop, receiver) {
      if (prop === 'setState') {
        return async (next: MigState) => {
          await target.setState(next);
          if (next === slowTo) clock.nowMs += ms;
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe.skipIf(SKIP_LAB)(labTitle('DeadlineSetState migrating a real mtty device'), () => {
  const lab = useLab();
  let dir = '';
  let store: Store;
  let rec: CountingRecorder;
  let source: VfioDevice;
  let destination: VfioDevice;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vfio-sla-mtty-'));
    store = openStore(join(dir, 'mtty.db'));
    rec = countingRecorder(store);
    const { client } = lab();
    source = await VfioDevice.open(client, await createMtty(client), { model: 'mtty', id: 'mtty-src' });
    destination = await VfioDevice.open(client, await createMtty(client), { model: 'mtty', id: 'mtty-dst' });
  }, 900_000);
  afterAll(async () => {
    await rec?.pipeline.close?.();
    store?.close();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('moves the UART state to the destination, every arc recorded, the model fitted from the file', async () => {
    await source.writeBar0(UART_LCR, Buffer.from([0x03]));
    await source.writeBar0(UART_RBR_THR, Buffer.from('vfio-sla'));
    expect((await destination.readBar0(UART_LSR, 1))[0]! & LSR_DATA_READY).toBe(0);

    const model = priorsFor(buildPriors(), 'mtty', 'qat-vf');
    const r = await migrateLoopback(source, destination, { model, sink: rec.sink, clock: realTimeClock, migrationId: 'mtty-1', deadlineMs: 5000 });
    expect(r.failure).toBeUndefined();
    expect(r.committed).toBe(true);
    expect(r.switchover?.decision?.action).toBe('commit');
    expect(r.precopyBytes).toBe(24);
    expect(r.precopyBytes + r.stopCopyBytes).toBe(96);
    expect([r.sourceState, r.destinationState]).toEqual([MigState.RUNNING, MigState.RUNNING]);

    expect((await destination.readBar0(UART_LSR, 1))[0]! & LSR_DATA_READY).toBe(LSR_DATA_READY);
    expect((await destination.readBar0(UART_LCR, 1))[0]).toBe(0x03);
    expect((await destination.readBar0(UART_RBR_THR, 8)).toString()).toBe('vfio-sla');

    await rec.pipeline.flush();
    expect(rec.errors).toEqual([]);
    const stored = storedRecords(store, 'mtty-1');
    const arcs = stored.filter((x) => x.kind === 'arc').map((x) => (x.kind === 'arc' ? `${x.deviceId}:${x.from}>${x.to}` : ''));
    expect(arcs).toEqual(
      expect.arrayContaining([
        'mtty-src:RUNNING>PRE_COPY',
        'mtty-src:PRE_COPY>PRE_COPY_P2P',
        'mtty-src:PRE_COPY_P2P>STOP_COPY',
        'mtty-src:STOP_COPY>STOP',
        'mtty-dst:STOP>RESUMING',
        'mtty-dst:RESUMING>STOP',
        'mtty-dst:RUNNING_P2P>RUNNING',
      ]),
    );
    expect(stored.some((x) => x.kind === 'size' && x.stopCopyBytes === 96 && x.initialBytes === 0)).toBe(true);
    expect(stored.some((x) => x.kind === 'outcome')).toBe(true);
    const fitted = fitModel(stored, model);
    expect(fitted.arcs['mtty']?.['PRE_COPY_P2P>STOP_COPY']?.n).toBe(1);
  });

  it('probe cycles: a model from the store, the size slope reported as not identified', async () => {
    const report = await runProbe(source, destination, { cycles: 6, deadlineMs: 5000, store, pipeline: rec.pipeline, priors: buildPriors(), migrationPrefix: 'mtty-probe' });
    expect(report.failed).toBe(0);
    expect(report.committed).toBe(6);
    const stopCopy = report.arcs.find((a) => a.arc === 'PRE_COPY_P2P>STOP_COPY');
    expect(stopCopy?.n).toBe(6);
    expect(stopCopy?.noSizeSpread).toBe(true);
    expect(stopCopy?.fit?.n).toBe(6);
  });

  it('an arc that overruns turns back before STOP_COPY; the kernel reports both devices running', async () => {
    await rec.pipeline.flush();
    // The priors' medians (5 ms an arc), not a fit of the fast arcs recorded above: with those
    // the finish after a stall would fit in what is left, and no turn-back would be tested.
    const model = priorsFor(buildPriors(), 'mtty', 'qat-vf');
    // A clock that only the stalled arc moves: 990 ms of a 1000 ms deadline gone after the
    // first arc, so finishing (STOP_COPY arc + transfer + destination arcs + restart medians,
    // > 10 ms) cannot fit while the way back (PRE_COPY_P2P -> PRE_COPY, 5 ms) still can.
    const clock = { nowMs: 0 };
    const stalling = stallingArc(source, MigState.PRE_COPY_P2P, clock, 990);
    const r = await migrateLoopback(stalling, destination, { model, sink: rec.sink, clock, migrationId: 'mtty-overrun', deadlineMs: 1000 });
    expect(r.committed).toBe(false);
    expect(r.switchover?.outcome).toBe('UNWOUND_OVERRUN');
    expect([r.sourceState, r.destinationState]).toEqual([MigState.RUNNING, MigState.RUNNING]);
    expect([await source.refreshState(), await destination.refreshState()]).toEqual([MigState.RUNNING, MigState.RUNNING]);
  });

  it('a truncated stream fails the destination load after the commit (EINVAL); both devices end running', async () => {
    const model = priorsFor(buildPriors(), 'mtty', 'qat-vf');
    const r = await migrateLoopback(source, destination, {
      model, sink: rec.sink, clock: realTimeClock, migrationId: 'mtty-truncated', deadlineMs: 5000,
      // The stop-copy part loses its last byte: mtty_load_state() refuses RESUMING -> STOP.
      tamper: (chunk, offset) => (offset === 0 ? chunk : chunk.subarray(0, chunk.length - 1)),
    });
    expect(r.committed).toBe(true);
    expect(r.failure).toMatchObject({ phase: 'restore', code: 'EINVAL' });
    expect([r.sourceState, r.destinationState]).toEqual([MigState.RUNNING, MigState.RUNNING]);
    expect([await source.refreshState(), await destination.refreshState()]).toEqual([MigState.RUNNING, MigState.RUNNING]);
  });

  it('a corrupted stream header is refused by the destination write (EFAULT) before any commit; both devices end running', async () => {
    const model = priorsFor(buildPriors(), 'mtty', 'qat-vf');
    const r = await migrateLoopback(source, destination, {
      model, sink: rec.sink, clock: realTimeClock, migrationId: 'mtty-corrupt', deadlineMs: 5000,
      // mtty_resume_write() checks the magic once the 24-byte header is in: flip its first byte.
      tamper: (chunk, offset) => (offset === 0 ? Buffer.concat([Buffer.from([chunk[0]! ^ 0xff]), chunk.subarray(1)]) : chunk),
    });
    expect(r.committed).toBe(false);
    expect(r.failure).toMatchObject({ phase: 'precopy', code: 'EFAULT' });
    expect([r.sourceState, r.destinationState]).toEqual([MigState.RUNNING, MigState.RUNNING]);
    expect([await source.refreshState(), await destination.refreshState()]).toEqual([MigState.RUNNING, MigState.RUNNING]);
  });
});
