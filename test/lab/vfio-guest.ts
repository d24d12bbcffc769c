/**
 * The VFIO lab guest: QEMU TCG booting the lab kernel (kernel-lab.ts) with a busybox initramfs
 * that loads vfio, vfio_iommu_type1, mdev and mtty, then runs our `vfio-helper`
 * (native/vfio-helper.c) on a virtio-serial port whose host end is a unix socket. The host talks
 * to the helper over that socket with JSON lines.
 *
 * `labInitramfs()` is the reusable part: the lab's modules plus any extra files and an init
 * script of the caller's (e.g. a guest that runs another program after the modules are loaded).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { guestInitramfs, type GuestFile } from '../qemu/guest/guest-image.js';
import { QemuProcess } from '../qemu/guest/qemu-process.js';
import { buildKernelLab, buildLabProgram, findLabTools, type KernelLab, type LabTools } from './kernel-lab.js';

/** Where the helper's source lives in the repository. */
export const HELPER_SOURCE = join(import.meta.dirname, '../../native/vfio-helper.c');

/** Printed by the helper on the console when it serves requests: boot is over. */
export const HELPER_READY_MARKER = 'vfio-helper: ready';

/** The virtio-serial port name; the guest sees it as `/dev/vport<N>p1`. */
const PORT_NAME = 'vfio-helper';

/** Shell lines that mount the pseudo file systems and load the lab's modules from `/lib/modules`. */
export function labInitPrologue(lab: KernelLab): string {
  const loads = lab.modules.map((m) => `/bin/busybox insmod /lib/modules/${basename(m)} || echo "vfio-lab: insmod ${basename(m)} failed"`);
  return [
    '#!/bin/busybox sh',
    '/bin/busybox mount -t proc proc /proc',
    '/bin/busybox mount -t sysfs sys /sys',
    '/bin/busybox mount -t devtmpfs dev /dev',
    ...loads,
    'echo "vfio-lab: modules loaded at uptime $(/bin/busybox cut -d" " -f1 /proc/uptime) s"',
    '',
  ].join('\n');
}

/** The lab's modules as initramfs files under `lib/modules/`. */
export function labModuleFiles(lab: KernelLab): GuestFile[] {
  return lab.modules.map((m) => ({ name: `lib/modules/${basename(m)}`, data: readFileSync(m) }));
}

/** A busybox initramfs with the lab's modules under `/lib/modules`, `files`, and `init`. */
export function labInitramfs(busybox: string, lab: KernelLab, init: string, files: readonly GuestFile[] = []): Buffer {
  return guestInitramfs(busybox, init, [...labModuleFiles(lab), ...files]);
}

const HELPER_INIT_TAIL = `port=$(/bin/busybox ls /dev/vport*p1 2>/dev/null | /bin/busybox head -n 1)
/vfio-helper --port "$port"
echo "vfio-lab: helper exited with status $?"
/bin/busybox poweroff -f
`;

export interface LabGuest {
  readonly process: QemuProcess;
  /** The host end of the helper's virtio-serial port (connected). */
  readonly socket: Socket;
  /** Its unix socket path: one client at a time; another may connect once `socket` is closed. */
  readonly socketPath: string;
  readonly lab: KernelLab;
  /** Spawn → helper ready, ms. */
  readonly bootMs: number;
  /** Closes the socket, kills QEMU, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface LabGuestOptions {
  readonly tools: LabTools;
  readonly lab: KernelLab;
  /** The helper binary, put at `/vfio-helper` in the guest. */
  readonly helper: string;
  /** Guest RAM, MiB (256). */
  readonly memMiB?: number;
  /** vCPUs (1). */
  readonly smp?: number;
  /** Spawn → ready marker, ms (180 000). */
  readonly bootTimeoutMs?: number;
  /**
   * `/init` (default: {@link labInitPrologue} then serve the helper on the virtio-serial port).
   * A custom init must print `readyMarker` and, to be reached, run
   * `/vfio-helper --port /dev/vport*p1`.
   */
  readonly init?: string;
  /** More files for the initramfs (programs, libraries, data). */
  readonly files?: readonly GuestFile[];
  /** Console text that means the guest is ready ({@link HELPER_READY_MARKER}). */
  readonly readyMarker?: string;
  /** More QEMU arguments (e.g. `-cpu max`). */
  readonly extraQemuArgs?: readonly string[];
  /** More kernel command-line words (init sees `name=value` words as environment variables). */
  readonly kernelArgs?: string;
}

export async function connectSocket(path: string, proc: QemuProcess): Promise<Socket> {
  for (let i = 0; ; i++) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = connect(path);
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      });
    } catch (e) {
      if (proc.exit !== undefined || i > 200) throw new Error(`helper socket ${path}: ${(e as Error).message}\n${proc.describe()}`, { cause: e });
      await sleep(25);
    }
  }
}

/** One boot of a lab guest (see {@link bootLabGuest}). */
export interface LabBootOptions {
  /** Label of the QEMU process and of its temp dir. */
  readonly name: string;
  readonly tools: LabTools;
  readonly lab: KernelLab;
  /** The initramfs, made anew for each boot (an init may hold fresh ids). */
  readonly initramfs: () => Buffer | Promise<Buffer>;
  /** Virtio-serial ports, in order (the first is `/dev/vport<N>p1` in the guest), each on a host unix socket. */
  readonly ports: readonly string[];
  readonly memMiB: number;
  readonly smp: number;
  /** Console text that means the guest is ready. */
  readonly readyMarker: string;
  /** Spawn → ready marker, ms. */
  readonly bootTimeoutMs: number;
  /** More kernel command-line words. */
  readonly kernelArgs?: string | undefined;
  /** More QEMU arguments. */
  readonly extraQemuArgs?: readonly string[] | undefined;
}

/** A booted lab guest: ready, its ports' host sockets listening. */
export interface BootedLabGuest {
  readonly process: QemuProcess;
  /** Host unix socket of each port, by name. */
  readonly sockets: Readonly<Record<string, string>>;
  /** Spawn → ready marker, ms. */
  readonly bootMs: number;
  /** Kills QEMU and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

async function bootOnce(o: LabBootOptions): Promise<BootedLabGuest> {
  const dir = mkdtempSync(join(tmpdir(), `vfio-sla-${o.name}-`));
  const initrd = join(dir, 'initramfs.cpio');
  writeFileSync(initrd, await o.initramfs());
  const sockets = Object.fromEntries(o.ports.map((p) => [p, join(dir, `${p}.sock`)]));
  const proc = QemuProcess.spawn(o.name, o.tools.qemu, [
    '-accel', 'tcg', '-machine', 'q35', '-m', String(o.memMiB), '-smp', String(o.smp),
    '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-no-reboot',
    '-kernel', o.lab.vmlinuz, '-initrd', initrd,
    '-append', `console=ttyS0 panic=-1 quiet${o.kernelArgs === undefined ? '' : ` ${o.kernelArgs}`}`,
    '-device', 'virtio-serial-pci',
    ...o.ports.flatMap((p) => ['-chardev', `socket,id=${p},path=${sockets[p] ?? ''},server=on,wait=off`, '-device', `virtserialport,chardev=${p},name=${p}`]),
    ...(o.extraQemuArgs ?? []),
  ]);
  const stop = async (): Promise<void> => {
    await proc.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const bootMs = await proc.waitForConsole(o.readyMarker, o.bootTimeoutMs);
    return { process: proc, sockets, bootMs, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Boots a lab guest (TCG, the lab kernel, `o.initramfs()`), once more if it died before it was
 * ready: on a loaded 2-core host a TCG guest now and then oopses at boot (an `int3` while the
 * kernel patches its own text), which says nothing about what the suite tests. A second death,
 * or a timeout, fails.
 */
export async function bootLabGuest(o: LabBootOptions): Promise<BootedLabGuest> {
  try {
    return await bootOnce(o);
  } catch (e) {
    if (!(e instanceof Error && / exited \(code /.test(e.message))) throw e;
    process.stderr.write(`${o.name}: the guest died before it was ready, booting it again (${e.message.split('\n')[0]})\n`);
    return bootOnce(o);
  }
}

/** Boots one lab guest and connects to its helper port. */
export async function startLabGuest(o: LabGuestOptions): Promise<LabGuest> {
  const init = o.init ?? labInitPrologue(o.lab) + HELPER_INIT_TAIL;
  const guest = await bootLabGuest({
    name: 'vfio-lab',
    tools: o.tools,
    lab: o.lab,
    initramfs: () => labInitramfs(o.tools.busybox, o.lab, init, [{ name: 'vfio-helper', data: readFileSync(o.helper), mode: 0o755 }, ...(o.files ?? [])]),
    ports: [PORT_NAME],
    memMiB: o.memMiB ?? 256,
    smp: o.smp ?? 1,
    readyMarker: o.readyMarker ?? HELPER_READY_MARKER,
    bootTimeoutMs: o.bootTimeoutMs ?? 180_000,
    kernelArgs: o.kernelArgs,
    extraQemuArgs: o.extraQemuArgs,
  });
  const sock = guest.sockets[PORT_NAME] ?? '';
  let socket: Socket | undefined;
  const stop = async (): Promise<void> => {
    socket?.destroy();
    await guest.stop();
  };
  try {
    socket = await connectSocket(sock, guest.process);
    return { process: guest.process, socket, socketPath: sock, lab: o.lab, bootMs: guest.bootMs, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** What a lab test needs, or why it cannot run (with what to install). */
export type LabReadiness = { readonly ok: true; readonly tools: LabTools } | { readonly ok: false; readonly reason: string };

export function labReadiness(env: NodeJS.ProcessEnv = process.env): LabReadiness {
  const found = findLabTools(env);
  return found.ok ? found : { ok: false, reason: `missing ${found.missing.join('; ')}` };
}

/** Builds (or takes from the cache) the lab kernel and the helper. */
export async function prepareLab(tools: LabTools): Promise<{ lab: KernelLab; helper: string }> {
  const lab = await buildKernelLab(tools);
  const helper = await buildLabProgram(tools, lab, HELPER_SOURCE);
  return { lab, helper };
}
