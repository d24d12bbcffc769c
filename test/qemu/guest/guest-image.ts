/**
 * The tiny guest of the real-QEMU harness: the host's Debian kernel (`linux-image-amd64`) and an
 * initramfs built at test time — static busybox (`busybox-static`) as a shell for `/init`, and
 * `dirtier` (dirtier.c, compiled with `cc -static -O2`) as the workload. The kernel passes
 * `name=value` words of its command line to init as environment variables, which is how the
 * dirtier gets its size and rate.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, openSync, readFileSync, readSync, closeSync, readdirSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { newcArchive } from './cpio.js';

const run = promisify(execFile);

/** Host programs and files the guest needs. */
export interface GuestTools {
  readonly qemu: string;
  readonly kernel: string;
  readonly busybox: string;
  readonly cc: string;
}

/** What is missing, with the Debian package that provides it. */
export type ToolsLookup = { readonly ok: true; readonly tools: GuestTools } | { readonly ok: false; readonly missing: readonly string[] };

/** Printed by the guest when the dirtier has touched its buffer: boot is over. */
export const GUEST_READY_MARKER = 'dirtier: ready';

const DIRTIER_SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'dirtier.c');

function accessible(p: string, mode: number): boolean {
  try {
    accessSync(p, mode);
    return true;
  } catch {
    return false;
  }
}

const executable = (p: string): boolean => accessible(p, constants.X_OK);
const readable = (p: string): boolean => accessible(p, constants.R_OK);

/** The first executable `name` on `PATH`, or `undefined`. */
export function onPath(name: string): string | undefined {
  return (process.env['PATH'] ?? '').split(delimiter).map((dir) => join(dir, name)).find(executable);
}

/** Newest readable `/boot/vmlinuz-*` (by version order), or `undefined`. */
function newestKernel(): string | undefined {
  let names: string[];
  try {
    names = readdirSync('/boot').filter((n) => n.startsWith('vmlinuz-'));
  } catch {
    return undefined;
  }
  names.sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  return names.map((n) => join('/boot', n)).find(readable);
}

/** True for an ELF file without a `PT_INTERP` program header (i.e. not dynamically linked). */
export function isStaticElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const eh = Buffer.alloc(64);
    if (readSync(fd, eh, 0, 64, 0) < 64 || eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2) return false;
    const phoff = Number(eh.readBigUInt64LE(0x20));
    const phentsize = eh.readUInt16LE(0x36);
    const phnum = eh.readUInt16LE(0x38);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3) return false; // PT_INTERP
    return true;
  } finally {
    closeSync(fd);
  }
}

/**
 * Finds the tools, honouring `VFIO_SLA_QEMU`, `VFIO_SLA_GUEST_KERNEL` and `VFIO_SLA_BUSYBOX`.
 * Never throws: a missing piece is reported with the apt package that provides it.
 */
export function findGuestTools(env: NodeJS.ProcessEnv = process.env): ToolsLookup {
  const missing: string[] = [];
  const given = (name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const qemu = given('VFIO_SLA_QEMU') ?? onPath('qemu-system-x86_64');
  if (qemu === undefined || !executable(qemu)) missing.push('qemu-system-x86_64 (apt-get install qemu-system-x86)');
  const kernel = given('VFIO_SLA_GUEST_KERNEL') ?? newestKernel();
  if (kernel === undefined || !readable(kernel)) missing.push('a readable /boot/vmlinuz-* (apt-get install linux-image-amd64)');
  const busybox = given('VFIO_SLA_BUSYBOX') ?? ['/bin/busybox', '/usr/bin/busybox'].find(readable);
  if (busybox === undefined || !readable(busybox) || !isStaticElf(busybox)) missing.push('a static busybox (apt-get install busybox-static)');
  const cc = onPath('cc');
  if (cc === undefined) missing.push('cc with a static libc (apt-get install gcc libc6-dev)');
  if (qemu === undefined || kernel === undefined || busybox === undefined || cc === undefined || missing.length > 0) {
    return { ok: false, missing };
  }
  return { ok: true, tools: { qemu, kernel, busybox, cc } };
}

/** `/init`: mount the pseudo file systems, run the dirtier; power off if it ever ends. */
const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
echo "vfio-sla-guest: init at uptime $(/bin/busybox cut -d' ' -f1 /proc/uptime) s"
/dirtier "\${dirty_mib:-32}" "\${dirty_rate_mbps:-1}"
echo "vfio-sla-guest: dirtier exited with status $?"
/bin/busybox poweroff -f
`;

/** A file to put into a guest initramfs (`name` relative, without a leading `/`). */
export interface GuestFile {
  readonly name: string;
  readonly data: Buffer;
  readonly mode?: number;
}

/**
 * A busybox initramfs: `/bin/busybox`, `/dev/console` (the kernel opens it for init's stdio before
 * devtmpfs is mounted), empty `/proc`, `/sys`, `/dev`, the `init` script and `files`, with every
 * parent directory of a file created before it. Reused by the VFIO lab (test/lab/).
 */
export function guestInitramfs(busybox: string, init: string, files: readonly GuestFile[] = []): Buffer {
  const dirs = new Set<string>(['bin', 'dev', 'proc', 'sys']);
  for (const f of files) {
    const parts = f.name.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return newcArchive([
    ...[...dirs].sort().map((name) => ({ type: 'dir', name }) as const),
    { type: 'char', name: 'dev/console', major: 5, minor: 1 },
    { type: 'file', name: 'bin/busybox', data: readFileSync(busybox), mode: 0o755 },
    ...files.map((f) => ({ type: 'file', name: f.name, data: f.data, mode: f.mode ?? 0o644 }) as const),
    { type: 'file', name: 'init', data: Buffer.from(init), mode: 0o755 },
  ]);
}

/** Compiles the dirtier and writes `initramfs.cpio` into `dir`; returns the initramfs path. */
export async function buildInitramfs(dir: string, tools: GuestTools): Promise<string> {
  const dirtier = join(dir, 'dirtier');
  await run(tools.cc, ['-static', '-O2', '-Wall', '-o', dirtier, DIRTIER_SOURCE]);
  const archive = guestInitramfs(tools.busybox, INIT_SCRIPT, [{ name: 'dirtier', data: readFileSync(dirtier), mode: 0o755 }]);
  const path = join(dir, 'initramfs.cpio');
  writeFileSync(path, archive);
  return path;
}
