/**
 * A QEMU ≥ 9.1 for the inside of the VFIO lab guest (kernel-lab.ts): Debian bookworm-backports'
 * `qemu-system-x86` (10.0), with `qemu-system-common`, `qemu-system-data` and `seabios` of the
 * same suite, fetched with `apt-get download` through the lab's private apt configuration (the
 * host's apt is untouched, nothing is installed), unpacked with `dpkg-deb -x` into the lab cache
 * keyed by the package version, and handed to the guest's initramfs as files: the binary, the
 * shared libraries it needs as the host resolves them (`ldd`; the host's bookworm libraries are
 * the ones the backport was built for, e.g. those `.ci/run` gets with Debian's own QEMU), the
 * dynamic loader, and the firmware a firmware-only VM reads (`bios-256k.bin` from seabios,
 * `kvmvapic.bin`).
 *
 * Facts (checked on this kind of machine): 10.0.2 runs in the 6.12 TCG guest with 48 bookworm
 * libraries; `VFIO_MIGRATION` events need 9.1+ (`qapi/vfio.json`).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import type { GuestFile } from '../qemu/guest/guest-image.js';
import { aptOptions, aptUpdate, download, labCacheRoot, withLock, type LabTools } from './kernel-lab.js';

const run = promisify(execFile);
const BIG = { maxBuffer: 64 * 1024 * 1024 };

/** The suite the lab takes QEMU from. */
export const QEMU10_SUITE = 'bookworm-backports';

/** Where the guest finds QEMU's files. */
export const GUEST_QEMU = '/qemu/bin/qemu-system-x86_64';
export const GUEST_QEMU_DATA = '/qemu/share';

/** Firmware a firmware-only pc VM reads (`-L`): SeaBIOS and the kvmvapic option ROM. */
const FIRMWARE = ['usr/share/seabios/bios-256k.bin', 'usr/share/qemu/kvmvapic.bin', 'usr/share/qemu/linuxboot_dma.bin'];

export interface Qemu10 {
  /** Debian version of `qemu-system-x86`, e.g. `1:10.0.2+ds-2+deb13u1~bpo12+1`. */
  readonly version: string;
  /** The unpacked packages. */
  readonly root: string;
  /** The binary, runnable on the host too. */
  readonly binary: string;
}

/** The version of `pkg` in {@link QEMU10_SUITE} (`apt-cache madison`). */
async function suiteVersion(tools: LabTools, aptDir: string, pkg: string): Promise<string> {
  const { stdout } = await run(tools.aptCache, [...aptOptions(aptDir), 'madison', pkg], BIG);
  for (const line of stdout.split('\n')) {
    const [, version, where] = line.split('|').map((s) => s.trim());
    if (version !== undefined && where !== undefined && where.includes(`${QEMU10_SUITE}/`)) return version;
  }
  throw new Error(`apt knows no ${pkg} in ${QEMU10_SUITE} (lists in ${aptDir})`);
}

/** Downloads and unpacks QEMU 10 into the lab cache (once per version). */
export async function prepareQemu10(tools: LabTools, root = labCacheRoot()): Promise<Qemu10> {
  const aptDir = join(root, 'apt');
  await aptUpdate(tools, aptDir);
  const version = await suiteVersion(tools, aptDir, 'qemu-system-x86');
  const dir = join(root, `qemu-${version.replace(/[^A-Za-z0-9.+~-]/g, '_')}`);
  const binary = join(dir, 'usr/bin/qemu-system-x86_64');
  if (!existsSync(binary)) {
    await withLock(`${dir}.lock`, async () => {
      if (existsSync(binary)) return;
      const seabios = await suiteVersion(tools, aptDir, 'seabios');
      const specs = ['qemu-system-x86', 'qemu-system-common', 'qemu-system-data'].map((p) => `${p}=${version}`).concat(`seabios=${seabios}`);
      const debs = await download(tools, root, specs);
      const tmp = `${dir}.tmp`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      for (const deb of debs.values()) await run(tools.dpkgDeb, ['-x', deb, tmp], BIG);
      renameSync(tmp, dir);
    });
  }
  return { version, root: dir, binary };
}

/** The shared libraries of `binary` as the host's loader resolves them, and the loader itself. */
export async function sharedLibraries(binary: string): Promise<{ readonly soname: string; readonly path: string }[]> {
  const { stdout } = await run('ldd', [binary], BIG);
  const out: { soname: string; path: string }[] = [];
  const missing: string[] = [];
  for (const line of stdout.split('\n')) {
    const lib = /^\s*(\S+) => (\S+) \(/.exec(line);
    if (lib?.[1] !== undefined && lib[2] !== undefined) out.push({ soname: lib[1], path: lib[2] });
    const notFound = /^\s*(\S+) => not found/.exec(line);
    if (notFound?.[1] !== undefined) missing.push(notFound[1]);
    const loader = /^\s*(\/\S*ld-linux\S*) \(/.exec(line);
    if (loader?.[1] !== undefined) out.push({ soname: loader[1], path: loader[1] });
  }
  if (missing.length > 0) throw new Error(`${binary} needs libraries this host lacks: ${missing.join(', ')} (apt-get install qemu-system-x86 brings them)`);
  return out;
}

/** QEMU's files for the guest initramfs: `/qemu/bin`, `/qemu/share`, the libraries and the loader. */
export async function qemu10GuestFiles(q: Qemu10): Promise<GuestFile[]> {
  const files: GuestFile[] = [{ name: GUEST_QEMU.slice(1), data: readFileSync(q.binary), mode: 0o755 }];
  for (const f of FIRMWARE) files.push({ name: `${GUEST_QEMU_DATA.slice(1)}/${basename(f)}`, data: readFileSync(join(q.root, f)) });
  for (const lib of await sharedLibraries(q.binary)) {
    const name = lib.soname.startsWith('/') ? lib.soname.slice(1) : `lib/x86_64-linux-gnu/${lib.soname}`;
    files.push({ name, data: readFileSync(realpathSync(lib.path)), mode: 0o755 });
  }
  return files;
}
