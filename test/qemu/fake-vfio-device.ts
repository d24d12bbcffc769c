/**
 * A VFIO device (an mtty mdev, `-device vfio-pci,id=vfio0,sysfsdev=/sys/bus/mdev/devices/UUID,
 * migration-events=on`) in the fake source QEMU, shaped as QEMU 10 shows it: `query-pci`
 * (`qapi/pci.json` `PciDeviceInfo`, mtty's ids 4348:3253 from `samples/vfio-mdev/mtty.c`),
 * `qom-get` of `type`/`sysfsdev`, `VFIO_MIGRATION` events on every state change
 * (`qapi/vfio.json`; `hw/vfio/migration.c`: save setup → pre-copy, switchover → pre-copy-p2p →
 * stop-copy, cleanup → stop, a cancelled migration → running), `vfio.transferred` in
 * `query-migrate`, and — once `trace-event-set-state` enabled them and `human-monitor-command
 * logfile` set the file — the "log" backend's trace lines (`hw/vfio/trace-events`).
 */
import { appendFileSync } from 'node:fs';
import type { FakeQmpServer } from './fake-qmp-server.js';
import { MDEV_UUID } from './vfio-fixture.js';

export interface FakeVfioOptions {
  /** `stop_copy_length` at the n-th active poll, bytes. */
  readonly stopCopyBytes: (n: number) => number;
  /** PRE_COPY `initial_bytes` at the n-th active poll. */
  readonly initialBytes?: (n: number) => number;
  readonly dirtyBytes?: number;
}

export class FakeVfioDevice {
  state = 'running';
  transferredBytes = 0;
  logFile: string | undefined;
  readonly traceEnabled = new Map<string, boolean>();
  /** Every VFIO_MIGRATION state sent, in order. */
  readonly sent: string[] = [];

  constructor(
    private readonly srv: FakeQmpServer,
    private readonly o: FakeVfioOptions,
  ) {
    srv.on('query-pci', () => ({
      return: [
        {
          bus: 0,
          devices: [
            { bus: 0, slot: 0, function: 0, class_info: { desc: 'Host bridge', class: 1536 }, id: { device: 4663, vendor: 32902, subsystem: 4352, 'subsystem-vendor': 6900 }, qdev_id: '', regions: [] },
            {
              bus: 0,
              slot: 4,
              function: 0,
              class_info: { class: 1792 },
              id: { device: 0x3253, vendor: 0x4348, subsystem: 0, 'subsystem-vendor': 0 },
              irq: 11,
              irq_pin: 1,
              qdev_id: 'vfio0',
              regions: [{ bar: 0, type: 'io', address: 49152, size: 8 }],
            },
          ],
        },
      ],
    }));
    srv.on('qom-get', (cmd) => {
      const path = cmd.arguments?.['path'];
      const prop = cmd.arguments?.['property'];
      if (path !== '/machine/peripheral/vfio0') return { error: { class: 'DeviceNotFound', desc: `Device '${String(path)}' not found` } };
      if (prop === 'type') return { return: 'vfio-pci' };
      if (prop === 'sysfsdev') return { return: `/sys/bus/mdev/devices/${MDEV_UUID}` };
      return { error: { class: 'GenericError', desc: `Property 'vfio-pci.${String(prop)}' not found` } };
    });
    srv.on('human-monitor-command', (cmd) => {
      const line = String(cmd.arguments?.['command-line'] ?? '');
      if (line.startsWith('logfile ')) this.logFile = line.slice('logfile '.length);
      return { return: '' };
    });
    srv.on('trace-event-set-state', (cmd) => {
      this.traceEnabled.set(String(cmd.arguments?.['name']), cmd.arguments?.['enable'] === true);
      return { return: {} };
    });
  }

  private tracing(): boolean {
    return this.logFile !== undefined && [...this.traceEnabled.values()].some((v) => v);
  }

  private trace(event: string, text: string): void {
    if (!this.tracing() || this.logFile === undefined) return;
    const t = Date.now() / 1000;
    const s = Math.floor(t);
    const us = String(Math.round((t - s) * 1e6) % 1_000_000).padStart(6, '0');
    appendFileSync(this.logFile, `4242@${s}.${us}:${event}  (${MDEV_UUID}) ${text}\n`);
  }

  /** `vfio_migration_set_state()`: trace, ioctl, then the event. */
  setState(to: string, kernelName: string): void {
    this.trace('vfio_migration_set_state', `new state ${kernelName}, recover state ERROR`);
    this.state = to;
    this.sent.push(to);
    this.srv.event('VFIO_MIGRATION', { 'device-id': 'vfio0', 'qom-path': '/machine/peripheral/vfio0', 'device-state': to }, Date.now() / 1000);
  }

  /** Save setup. */
  start(): void {
    this.setState('pre-copy', 'PRE_COPY');
  }

  /** One iteration: QEMU's exact pending query, and 24 bytes of pre-copy data sent. */
  iterate(n: number): void {
    const init = this.o.initialBytes?.(n) ?? 0;
    const dirty = this.o.dirtyBytes ?? 24;
    const stop = this.o.stopCopyBytes(n);
    this.trace('vfio_state_pending_exact', `precopy ${stop + init + dirty} postcopy 0 stopcopy size ${stop} precopy initial size ${init} precopy dirty size ${dirty}`);
    this.transferredBytes += 24;
  }

  /** Switchover, then cleanup. */
  switchover(n: number): void {
    this.setState('pre-copy-p2p', 'PRE_COPY_P2P');
    this.setState('stop-copy', 'STOP_COPY');
    this.transferredBytes += this.o.stopCopyBytes(n);
  }

  cleanup(): void {
    this.setState('stop', 'STOP');
  }

  /** `vfio_migration_state_notifier()` on PRECOPY_FAILED: back to RUNNING. */
  cancelled(): void {
    this.setState('running', 'RUNNING');
  }
}
