/**
 * A source QEMU 10.0 migrating a VM with one mtty mdev (`-device vfio-pci,id=vfio0,sysfsdev=…,
 * migration-events=on`), as its QMP and its VFIO trace show it. Shapes from QEMU's sources:
 * `VFIO_MIGRATION` data `{device-id, qom-path, device-state}` (`qapi/vfio.json`), states
 * `pre-copy → pre-copy-p2p → stop-copy → stop` on the source and `resuming → running-p2p →
 * running` on the destination (`hw/vfio/migration.c`: save setup, `vfio_vmstate_change_prepare`,
 * `vfio_vmstate_change`, save cleanup; load setup, VM start), µs timestamps; trace lines of the
 * "log" backend with `-msg timestamp=on` (`TID@SEC.USEC:name fmt`, `hw/vfio/trace-events`
 * formats with `%"PRIu64`), `query-migrate` with `vfio.transferred`.
 */

export const MDEV_UUID = '83b8f4f2-509f-382f-3c1e-e6bfe0fa1001';
export const T0_S = 1_765_000_000;

export function ts(tS: number): { seconds: number; microseconds: number } {
  const seconds = Math.floor(tS);
  return { seconds, microseconds: Math.round((tS - seconds) * 1e6) };
}

export function vfioEvent(state: string, tS: number): Record<string, unknown> {
  return { timestamp: ts(tS), event: 'VFIO_MIGRATION', data: { 'device-id': 'vfio0', 'qom-path': '/machine/peripheral/vfio0', 'device-state': state } };
}

/** A trace line as QEMU 10's log backend writes it with `-msg timestamp=on`. */
export function traceLine(tS: number, event: string, text: string): string {
  const { seconds, microseconds } = ts(tS);
  return `4242@${seconds}.${String(microseconds).padStart(6, '0')}:${event}  (${MDEV_UUID}) ${text}`;
}

/** A downtime checkpoint as QEMU 10's log backend writes it (`migration/trace-events`: `"%s"`). */
export function checkpointLine(tS: number, checkpoint: string): string {
  const { seconds, microseconds } = ts(tS);
  return `4242@${seconds}.${String(microseconds).padStart(6, '0')}:vmstate_downtime_checkpoint ${checkpoint}`;
}

export const exactLine = (tS: number, stop: number, init: number, dirty: number): string =>
  traceLine(tS, 'vfio_state_pending_exact', `precopy ${65536 + init + dirty + stop} postcopy 0 stopcopy size ${stop} precopy initial size ${init} precopy dirty size ${dirty}`);

export const setStateLine = (tS: number, to: string, recover: string): string =>
  traceLine(tS, 'vfio_migration_set_state', `new state ${to}, recover state ${recover}`);

const ram = (remaining: number, sync: number, transferred: number): Record<string, number> => ({
  total: 67108864,
  transferred,
  remaining,
  duplicate: 15000,
  normal: 1000,
  'normal-bytes': 4096000,
  'dirty-pages-rate': 120,
  mbps: 900,
  'dirty-sync-count': sync,
  'postcopy-requests': 0,
  'page-size': 4096,
  'multifd-bytes': 0,
  'pages-per-second': 30000,
  'precopy-bytes': transferred,
  'downtime-bytes': 0,
  'postcopy-bytes': 0,
  'dirty-sync-missed-zero-copy': 0,
});

/** A devices annotation as `watch` writes it. */
export const devicesLine = (side: 'source' | 'destination'): string =>
  JSON.stringify({
    'vfio-sla': 'devices',
    side,
    devices: [{ 'device-id': 'vfio0', 'qom-path': '/machine/peripheral/vfio0', name: MDEV_UUID, vendor: 0x4348, device: 0x3253, model: 'pci-4348:3253' }],
  });

export const traceAnnotation = (side: 'source' | 'destination', text: string, readAtS: number): string =>
  JSON.stringify({ 'vfio-sla': 'trace', side, text, ts: readAtS });

/**
 * The wire log of one migration, source and destination, with or without the trace; with
 * `checkpoints` (and the trace) also the source's downtime checkpoints: vCPUs stopped at +171.3 ms,
 * RAM and device data saved at +190.2 ms (a transfer of 18.9 ms in QEMU's 61 ms downtime).
 */
export function qemu10WireLog(opts: { readonly trace: boolean; readonly checkpoints?: boolean }): string[] {
  const t = T0_S;
  const lines: string[] = [];
  lines.push(JSON.stringify({ QMP: { version: { qemu: { major: 10, minor: 0, micro: 2 }, package: 'Debian 1:10.0.2+ds-2+deb13u1~bpo12+1' }, capabilities: ['oob'] } }));
  lines.push(devicesLine('source'));
  lines.push(JSON.stringify({ return: { 'downtime-limit': 300, 'max-bandwidth': 134217728 }, ts: t }));
  lines.push(JSON.stringify({ timestamp: ts(t + 0.01), event: 'MIGRATION', data: { status: 'setup' } }));
  if (opts.trace) lines.push(traceAnnotation('source', setStateLine(t + 0.02, 'PRE_COPY', 'RUNNING'), t + 0.03));
  lines.push(JSON.stringify(vfioEvent('pre-copy', t + 0.0215)));
  lines.push(JSON.stringify({ timestamp: ts(t + 0.035), event: 'MIGRATION', data: { status: 'active' } }));
  lines.push(JSON.stringify({ return: { status: 'active', 'total-time': 40, 'setup-time': 24, 'expected-downtime': 300, ram: ram(40_000_000, 1, 20_000_000), vfio: { transferred: 0 } }, ts: t + 0.05 }));
  if (opts.trace) {
    lines.push(traceAnnotation('source', exactLine(t + 0.09, 16384, 4096, 0), t + 0.1));
    lines.push(traceAnnotation('source', traceLine(t + 0.095, 'vfio_state_pending_estimate', 'precopy 20000 postcopy 0 precopy initial size 0 precopy dirty size 24'), t + 0.1));
  }
  lines.push(JSON.stringify({ return: { status: 'active', 'total-time': 140, 'setup-time': 24, 'expected-downtime': 70, ram: ram(300_000, 2, 60_000_000), vfio: { transferred: 24 } }, ts: t + 0.15 }));
  if (opts.trace) {
    lines.push(traceAnnotation('source', exactLine(t + 0.16, 16384, 0, 24), t + 0.17));
    lines.push(traceAnnotation('source', setStateLine(t + 0.1701, 'PRE_COPY_P2P', 'ERROR'), t + 0.2));
  }
  lines.push(JSON.stringify(vfioEvent('pre-copy-p2p', t + 0.1703)));
  if (opts.trace) lines.push(traceAnnotation('source', setStateLine(t + 0.1704, 'STOP_COPY', 'ERROR'), t + 0.2));
  lines.push(JSON.stringify(vfioEvent('stop-copy', t + 0.1712)));
  lines.push(JSON.stringify({ timestamp: ts(t + 0.1713), event: 'STOP' }));
  lines.push(JSON.stringify({ timestamp: ts(t + 0.1714), event: 'MIGRATION', data: { status: 'device' } }));
  if (opts.trace && opts.checkpoints === true) {
    for (const [tS, c] of [[0.1699, 'src-downtime-start'], [0.1713, 'src-vm-stopped'], [0.1902, 'src-iterable-saved'], [0.1905, 'src-non-iterable-saved'], [0.2299, 'src-downtime-end']] as const) {
      lines.push(traceAnnotation('source', checkpointLine(t + tS, c), t + 0.2));
    }
  }
  lines.push(JSON.stringify({ timestamp: ts(t + 0.23), event: 'MIGRATION', data: { status: 'completed' } }));
  if (opts.trace) lines.push(traceAnnotation('source', setStateLine(t + 0.2301, 'STOP', 'ERROR'), t + 0.24));
  lines.push(JSON.stringify(vfioEvent('stop', t + 0.2304)));
  lines.push(
    JSON.stringify({
      return: { status: 'completed', 'total-time': 221, 'setup-time': 24, downtime: 61, ram: { ...ram(0, 3, 61_000_000), 'downtime-bytes': 900_000 }, vfio: { transferred: 96 } },
      ts: t + 0.25,
    }),
  );
  // The destination: its devices and events, forwarded by watch.
  lines.push(devicesLine('destination'));
  const dst = (state: string, tS: number): string => JSON.stringify({ 'vfio-sla': 'event', side: 'destination', event: vfioEvent(state, tS) });
  if (opts.trace) lines.push(traceAnnotation('destination', setStateLine(t + 0.0195, 'RESUMING', 'RUNNING'), t + 0.02));
  lines.push(dst('resuming', t + 0.0199));
  if (opts.trace) lines.push(traceAnnotation('destination', setStateLine(t + 0.2281, 'RUNNING_P2P', 'ERROR'), t + 0.24));
  lines.push(dst('running-p2p', t + 0.2288));
  if (opts.trace) lines.push(traceAnnotation('destination', setStateLine(t + 0.2289, 'RUNNING', 'ERROR'), t + 0.24));
  lines.push(dst('running', t + 0.2294));
  return lines;
}
