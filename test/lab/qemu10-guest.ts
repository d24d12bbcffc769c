/**
 * The VFIO lab guest running QEMU 10 inside (qemu10-lab.ts): two mtty mdevs, and on request from
 * the host an inner source QEMU (a firmware-only VM with one mdev as
 * `-device vfio-pci,sysfsdev=…,migration-events=on,x-device-dirty-page-tracking=off,enable-migration=on`)
 * and an inner destination QEMU (`-incoming defer`, the other mdev). Each inner QEMU has its QMP
 * monitor on a virtio-serial port (`-chardev pipe` on `/dev/vportNpM`) whose host end is a unix
 * socket, and a second port for its log file (QEMU's VFIO trace), so that `vfio-sla watch` on
 * the host reaches both QEMUs as it would reach local ones.
 *
 * Why these vfio-pci options (facts checked on this kind of machine): with QEMU's defaults the
 * migration fails (`ram_save_setup failed: Operation not supported`: Debian's kernel has IOMMUFD
 * off, so device DMA-logging reports EOPNOTSUPP); with `x-device-dirty-page-tracking=off` QEMU
 * uses type1 dirty tracking, which needs `enable-migration=on` to be allowed.
 *
 * Control: the host writes `src` or `dst` on the `ctl` port; the guest starts that QEMU and
 * answers `started src` / `started dst`. `reset` kills inner QEMUs left over, freeing their ports,
 * and makes both mdevs anew: mtty's `close_device` leaves a device's migration state as it was
 * and mtty offers no VFIO reset (QEMU: "no available reset mechanism"), so after a cancelled
 * migration the destination mdev stays in RESUMING; the next destination QEMU's RESUMING is then
 * no arc and gets no data fd, and its load fails ("Bad file descriptor", the source sees
 * "Sibling indicated error 1") — every later migration failed before. The host connects to a
 * QEMU's QMP socket before asking for it, so that its greeting is not lost.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { QemuProcess } from '../qemu/guest/qemu-process.js';
import type { KernelLab, LabTools } from './kernel-lab.js';
import { GUEST_QEMU, GUEST_QEMU_DATA, qemu10GuestFiles, type Qemu10 } from './qemu10-lab.js';
import { bootLabGuest, connectSocket, labInitPrologue, labInitramfs } from './vfio-guest.js';

export const QEMU10_READY_MARKER = 'qemu10-lab: ready';

/** The virtio-serial ports, by name. */
export const PORTS = ['ctl', 'qmp-src', 'qmp-dst', 'trace-src', 'trace-dst'] as const;
export type PortName = (typeof PORTS)[number];

/** Guest RAM of each inner VM, MiB. */
export const INNER_MEM_MIB = 64;

/** Where the destination listens, inside the guest. */
export const MIGRATION_URI = 'tcp:127.0.0.1:4444';

function innerQemu(role: 'src' | 'dst', uuid: string): string {
  const args = [
    GUEST_QEMU, '-L', GUEST_QEMU_DATA, '-accel', 'tcg', '-m', String(INNER_MEM_MIB), '-smp', '1',
    '-nodefaults', '-no-user-config', '-display', 'none', '-msg', 'timestamp=on',
    '-device', `vfio-pci,id=vfio0,sysfsdev=/sys/bus/mdev/devices/${uuid},migration-events=on,x-device-dirty-page-tracking=off,enable-migration=on`,
    '-chardev', `pipe,id=qmp,path=/dev/port-qmp-${role}`, '-mon', 'chardev=qmp,mode=control',
    ...(role === 'dst' ? ['-incoming', 'defer'] : []),
  ];
  return `${args.join(' ')} 2>&1 | /bin/busybox sed 's/^/${role}: /' &`;
}

function initTail(uuids: readonly [string, string]): string {
  const types = '/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/create';
  return `for p in /sys/class/virtio-ports/*; do /bin/busybox ln -s /dev/$(/bin/busybox basename $p) /dev/port-$(/bin/busybox cat $p/name); done
echo ${uuids[0]} > ${types} || echo "qemu10-lab: mdev ${uuids[0]} failed"
echo ${uuids[1]} > ${types} || echo "qemu10-lab: mdev ${uuids[1]} failed"
/bin/busybox ifconfig lo 127.0.0.1 up
exec 3<>/dev/port-ctl
echo "${QEMU10_READY_MARKER}"
# A read returns end-of-file while the host end is not connected: wait and read again.
while true; do
  if ! read -r cmd <&3; then /bin/busybox sleep 0.2; continue; fi
  case "$cmd" in
    src) ${innerQemu('src', uuids[0])} ;;
    dst) ${innerQemu('dst', uuids[1])} ;;
    reset) /bin/busybox killall -9 qemu-system-x86_64 2>/dev/null; /bin/busybox sleep 0.5
      for u in ${uuids[0]} ${uuids[1]}; do echo 1 > /sys/bus/mdev/devices/$u/remove; echo $u > ${types} || echo "qemu10-lab: mdev $u failed"; done ;;
    *) echo "qemu10-lab: unknown command $cmd" ;;
  esac
  echo "started $cmd" >&3
done
`;
}

export interface Qemu10Guest {
  readonly process: QemuProcess;
  /** Host unix socket of each port. */
  readonly sockets: Readonly<Record<PortName, string>>;
  readonly bootMs: number;
  /** Starts an inner QEMU (after the caller connected to its QMP socket); `reset` kills any left over. */
  start(role: 'src' | 'dst' | 'reset'): Promise<void>;
  stop(): Promise<void>;
}

/** Boots the guest (outer TCG, 2 GiB, 2 vCPUs) with QEMU 10 in its initramfs. */
type Qemu10GuestOptions = { tools: LabTools; lab: KernelLab; qemu: Qemu10; bootTimeoutMs?: number };

/** Boots the guest (see {@link bootLabGuest}: once more if it dies before it is ready) and connects to its control port. */
export async function startQemu10Guest(o: Qemu10GuestOptions): Promise<Qemu10Guest> {
  const guest = await bootLabGuest({
    name: 'qemu10-lab',
    tools: o.tools,
    lab: o.lab,
    // Fresh mdev UUIDs for each boot.
    initramfs: async () => labInitramfs(o.tools.busybox, o.lab, labInitPrologue(o.lab) + initTail([randomUUID(), randomUUID()]), await qemu10GuestFiles(o.qemu)),
    ports: PORTS,
    memMiB: 2048,
    smp: 2,
    readyMarker: QEMU10_READY_MARKER,
    bootTimeoutMs: o.bootTimeoutMs ?? 300_000,
  });
  const sockets = guest.sockets as Record<PortName, string>;
  let ctl: Socket | undefined;
  const stop = async (): Promise<void> => {
    ctl?.destroy();
    await guest.stop();
  };
  try {
    const c = await connectSocket(sockets.ctl, guest.process);
    ctl = c;
    c.setEncoding('utf8');
    let buf = '';
    const waiting: { role: string; resolve: () => void }[] = [];
    c.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        const i = waiting.findIndex((w) => line === `started ${w.role}`);
        if (i >= 0) waiting.splice(i, 1)[0]?.resolve();
      }
    });
    const start = (role: 'src' | 'dst' | 'reset'): Promise<void> =>
      new Promise<void>((resolve) => {
        waiting.push({ role, resolve });
        c.write(`${role}\n`);
      });
    return { process: guest.process, sockets, bootMs: guest.bootMs, start, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
