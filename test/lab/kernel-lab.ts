/**
 * The VFIO lab's builder: a Debian 6.12 guest kernel with the `vfio`, `vfio_iommu_type1` and
 * `mdev` modules, the kernel's own `mtty` sample driver (VFIO migration since 6.7:
 * `samples/vfio-mdev/mtty.c`) and `mdpy` (no migration) built out of tree, and static programs compiled against the
 * kernel's uapi headers. Everything is fetched with `apt-get download` (never installed) through
 * a private apt configuration, built once into a cache directory keyed by the Debian package
 * version, and reused by later runs. No kernel source enters the repository: the samples are taken
 * from Debian's `linux-source-6.12` tarball at build time.
 *
 * Facts it relies on (Debian 6.12.118 packages, checked on this kind of machine):
 * - the headers' `Makefile` includes the `-common` headers by absolute path (`/usr/src/...`), so
 *   the extracted copy is pointed at the extracted `-common` tree; `scripts`/`tools` link to
 *   `linux-kbuild-*` by relative path;
 * - `CONFIG_DEBUG_INFO_BTF_MODULES=y` needs `pahole`; the module is built with it off, so the lab
 *   does not need `dwarves` (a module without BTF loads; only its BTF is missing);
 * - modules ship xz-compressed (`CONFIG_MODULE_COMPRESS_XZ`); they are decompressed on the host so
 *   busybox `insmod` loads them as plain ELF;
 * - the uapi `vfio.h` keeps `__user` (`struct vfio_iommu_type1_dma_unmap`): programs are built with
 *   `-D__user=`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { isStaticElf, onPath } from '../qemu/guest/guest-image.js';

const run = promisify(execFile);
const BIG = { maxBuffer: 64 * 1024 * 1024 };

/** Host programs the lab needs, each with the Debian package that provides it. */
export interface LabTools {
  readonly qemu: string;
  readonly busybox: string;
  readonly cc: string;
  readonly make: string;
  readonly aptGet: string;
  readonly aptCache: string;
  readonly dpkgDeb: string;
  readonly xz: string;
  readonly tar: string;
}

export type LabLookup = { readonly ok: true; readonly tools: LabTools } | { readonly ok: false; readonly missing: readonly string[] };

/** Finds the lab's host tools; never throws. `VFIO_SLA_QEMU` and `VFIO_SLA_BUSYBOX` override. */
export function findLabTools(env: NodeJS.ProcessEnv = process.env): LabLookup {
  const missing: string[] = [];
  const need = (name: string, pkg: string, given?: string): string => {
    const path = given !== undefined && given !== '' ? given : onPath(name);
    if (path === undefined) missing.push(`${name} (apt-get install ${pkg})`);
    return path ?? '';
  };
  const busyboxPath = env['VFIO_SLA_BUSYBOX'] ?? ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  const tools: LabTools = {
    qemu: need('qemu-system-x86_64', 'qemu-system-x86', env['VFIO_SLA_QEMU']),
    busybox: busyboxPath ?? '',
    cc: need('cc', 'gcc libc6-dev'),
    make: need('make', 'make'),
    aptGet: need('apt-get', 'apt'),
    aptCache: need('apt-cache', 'apt'),
    dpkgDeb: need('dpkg-deb', 'dpkg'),
    xz: need('xz', 'xz-utils'),
    tar: need('tar', 'tar'),
  };
  if (busyboxPath === undefined || !existsSync(busyboxPath) || !isStaticElf(busyboxPath)) missing.push('a static busybox (apt-get install busybox-static)');
  return missing.length > 0 ? { ok: false, missing } : { ok: true, tools };
}

/** `VFIO_SLA_LAB_CACHE`, else `$XDG_CACHE_HOME/vfio-sla/lab`, else `~/.cache/vfio-sla/lab`: outside the clone. */
export function labCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const given = env['VFIO_SLA_LAB_CACHE'];
  if (given !== undefined && given !== '') return given;
  const xdg = env['XDG_CACHE_HOME'];
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'vfio-sla', 'lab');
}

/** The Debian packages of one kernel, all of one version (`6.12.118-1~deb12u1`). */
export interface KernelPackages {
  /** Debian version of every package, e.g. `6.12.118-1~deb12u1`. */
  readonly version: string;
  /** Kernel release (`uname -r` in the guest), e.g. `6.12.118+deb12-amd64`. */
  readonly release: string;
  /** `name=version` for `apt-get download`. */
  readonly image: string;
  readonly headers: string;
  readonly headersCommon: string;
  readonly kbuild: string;
  readonly source: string;
}

/** A built lab kernel: what a guest initramfs and the QEMU command line need. */
export interface KernelLab {
  readonly packages: KernelPackages;
  /** The cache directory of this kernel version. */
  readonly dir: string;
  readonly vmlinuz: string;
  /** Decompressed modules in load order: dependencies first, then `mtty.ko` and `mdpy.ko`. */
  readonly modules: readonly string[];
  /** Directory holding `linux/vfio.h` of this kernel, for `-I`. */
  readonly include: string;
  /** How long the build took (0 when it came from the cache), ms. */
  readonly buildMs: number;
}

/** The modules the lab loads (their dependencies are added from `.modinfo`), then mtty. */
const LAB_MODULES = ['vfio', 'vfio_iommu_type1', 'mdev'] as const;
const SOURCE_PACKAGE = 'linux-source-6.12';
/**
 * The sample drivers built out of tree: mtty (migration) and mdpy (an mdev display without
 * migration support: the lab's device that `VFIO_DEVICE_FEATURE_MIGRATION` refuses).
 */
const SAMPLES_IN_TARBALL = 'linux-source-6.12/samples/vfio-mdev';
const SAMPLE_FILES = ['mtty.c', 'mdpy.c', 'mdpy-defs.h'] as const;
const SAMPLE_MODULES = ['mtty.ko', 'mdpy.ko'] as const;
/** Bumped when what a lab directory holds changes, so an older cache is not taken for it. */
const LAB_LAYOUT = 2;
const LISTS_MAX_AGE_MS = 24 * 3600_000;

/**
 * Debian bookworm's security updates (where the newest 6.12 kernels and `linux-source-6.12` live)
 * and backports (older 6.12s); not the main archive, whose lists are large and hold no 6.12.
 */
const SOURCES_LIST = [
  'deb http://deb.debian.org/debian bookworm-backports main',
  'deb http://deb.debian.org/debian-security bookworm-security main',
  '',
].join('\n');

/** apt options that keep every list, cache and download inside `aptDir` (the host's apt is untouched). */
function aptOptions(aptDir: string): string[] {
  const o = {
    'Dir::Etc::SourceList': join(aptDir, 'sources.list'),
    'Dir::Etc::SourceParts': '/dev/null',
    'Dir::State::Lists': join(aptDir, 'lists'),
    'Dir::State::Status': '/dev/null',
    'Dir::Cache': join(aptDir, 'cache'),
    'APT::Sandbox::User': 'root',
    'Debug::NoLocking': '1',
  };
  return Object.entries(o).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
}

/** Refreshes the private lists when older than a day; true when they were already fresh. */
async function aptUpdate(tools: LabTools, aptDir: string): Promise<boolean> {
  mkdirSync(join(aptDir, 'lists', 'partial'), { recursive: true });
  mkdirSync(join(aptDir, 'cache', 'archives', 'partial'), { recursive: true });
  const sourcesPath = join(aptDir, 'sources.list');
  const stamp = join(aptDir, 'updated');
  if (!existsSync(sourcesPath) || readFileSync(sourcesPath, 'utf8') !== SOURCES_LIST) {
    writeFileSync(sourcesPath, SOURCES_LIST);
    rmSync(stamp, { force: true });
  }
  const fresh = existsSync(stamp) && Date.now() - statSync(stamp).mtimeMs < LISTS_MAX_AGE_MS;
  if (fresh) return true;
  try {
    await run(tools.aptGet, [...aptOptions(aptDir), '-qq', 'update'], BIG);
    writeFileSync(stamp, new Date().toISOString());
    return false;
  } catch (e) {
    // Offline with lists from an earlier run: go on with those.
    if (!existsSync(stamp)) throw new Error(`apt-get update (private lists in ${aptDir}) failed: ${(e as Error).message}`, { cause: e });
    return true;
  }
}

async function candidateVersion(tools: LabTools, aptDir: string, pkg: string): Promise<string | undefined> {
  const { stdout } = await run(tools.aptCache, [...aptOptions(aptDir), 'policy', pkg], BIG);
  const m = /Candidate:\s*(\S+)/.exec(stdout);
  return m?.[1] === undefined || m[1] === '(none)' ? undefined : m[1];
}

/**
 * The newest `linux-source-6.12` and the image, headers and kbuild packages of the same version
 * (`VFIO_SLA_LAB_KERNEL_VERSION` pins a Debian version).
 */
export async function resolveKernelPackages(tools: LabTools, root: string, env: NodeJS.ProcessEnv = process.env): Promise<KernelPackages> {
  const aptDir = join(root, 'apt');
  const listsWereFresh = await aptUpdate(tools, aptDir);
  const pinned = env['VFIO_SLA_LAB_KERNEL_VERSION'];
  // The newest version found with these lists, kept until the lists are refreshed: a warm run
  // then asks apt nothing.
  const newestFile = join(aptDir, 'newest-version');
  let version = pinned !== undefined && pinned !== '' ? pinned : listsWereFresh && existsSync(newestFile) ? readFileSync(newestFile, 'utf8').trim() : undefined;
  if (version === undefined) {
    version = await candidateVersion(tools, aptDir, SOURCE_PACKAGE);
    if (version === undefined) throw new Error(`apt knows no ${SOURCE_PACKAGE} (lists in ${aptDir})`);
    writeFileSync(newestFile, `${version}\n`);
  }
  // 6.12.118-1~deb12u1 → ABI name 6.12.118+deb12 (Debian's linux package naming).
  const upstream = version.split('-')[0] ?? version;
  const abi = `${upstream}+deb12`;
  return {
    version,
    release: `${abi}-amd64`,
    image: `linux-image-${abi}-amd64-unsigned=${version}`,
    headers: `linux-headers-${abi}-amd64=${version}`,
    headersCommon: `linux-headers-${abi}-common=${version}`,
    kbuild: `linux-kbuild-${abi}=${version}`,
    source: `${SOURCE_PACKAGE}=${version}`,
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Holds `lockDir` (mkdir is atomic) while `fn` runs; waits for another holder. A lock whose
 * holder process is gone (its pid is in the lock), or older than 20 minutes, is broken.
 */
async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  const staleMs = 20 * 60_000;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        const pid = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
        const holderGone = Number.isInteger(pid) && pid > 0 && !processAlive(pid);
        if (holderGone || Date.now() - statSync(lockDir).mtimeMs > staleMs) rmSync(lockDir, { recursive: true, force: true });
      } catch {
        // being created or removed right now: look again
      }
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function debFor(debs: string, spec: string): string | undefined {
  const [name, version] = spec.split('=');
  // apt-get download names files name_version_arch.deb with ':' in the version escaped as %3a.
  const prefix = `${name}_${(version ?? '').replace(/:/g, '%3a')}_`;
  return readdirSync(debs).find((f) => f.startsWith(prefix) && f.endsWith('.deb'));
}

async function download(tools: LabTools, root: string, specs: readonly string[]): Promise<Map<string, string>> {
  const debs = join(root, 'debs');
  mkdirSync(debs, { recursive: true });
  const missing = specs.filter((s) => debFor(debs, s) === undefined);
  if (missing.length > 0) await run(tools.aptGet, [...aptOptions(join(root, 'apt')), '-qq', 'download', ...missing], { ...BIG, cwd: debs });
  const out = new Map<string, string>();
  for (const s of specs) {
    const f = debFor(debs, s);
    if (f === undefined) throw new Error(`apt-get download left no .deb for ${s} in ${debs}`);
    out.set(s, join(debs, f));
  }
  return out;
}

/** `depends=a,b` from a module's `.modinfo` section (NUL-separated `key=value` strings). */
export function moduleDepends(ko: Buffer): string[] {
  const at = ko.indexOf('\0depends=');
  if (at < 0) return [];
  const end = ko.indexOf(0, at + 1);
  const value = ko.subarray(at + '\0depends='.length, end).toString('latin1');
  return value === '' ? [] : value.split(',');
}

function findModule(dir: string, name: string): string | undefined {
  const wanted = new Set([`${name}.ko.xz`, `${name.replace(/_/g, '-')}.ko.xz`]);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const found = findModule(p, name);
      if (found !== undefined) return found;
    } else if (wanted.has(e.name)) return p;
  }
  return undefined;
}

/** Decompresses `names` and their dependencies into `outDir`; returns the paths, dependencies first. */
async function collectModules(tools: LabTools, kernelDir: string, names: readonly string[], outDir: string): Promise<string[]> {
  const ordered: string[] = [];
  const seen = new Set<string>();
  const visit = async (name: string): Promise<void> => {
    if (seen.has(name)) return;
    seen.add(name);
    const xzPath = findModule(kernelDir, name);
    if (xzPath === undefined) throw new Error(`module ${name} not in ${kernelDir}`);
    const { stdout } = await run(tools.xz, ['-dc', xzPath], { ...BIG, encoding: 'buffer' });
    for (const dep of moduleDepends(stdout)) await visit(dep);
    const out = join(outDir, `${name}.ko`);
    writeFileSync(out, stdout);
    ordered.push(out);
  };
  for (const n of names) await visit(n);
  return ordered;
}

const MANIFEST = 'lab.json';

/**
 * The lab kernel for the newest Debian 6.12 (or `VFIO_SLA_LAB_KERNEL_VERSION`): from the cache
 * when built before, else downloaded and built (≈ 280 MB of `.deb`s; kept in `<root>/debs`).
 */
export async function buildKernelLab(tools: LabTools, root = labCacheRoot(), env: NodeJS.ProcessEnv = process.env): Promise<KernelLab> {
  mkdirSync(root, { recursive: true });
  const packages = await withLock(join(root, 'apt.lock'), () => resolveKernelPackages(tools, root, env));
  const dir = join(root, `kernel-${packages.version}-v${LAB_LAYOUT}`);
  const cached = (): KernelLab | undefined =>
    existsSync(join(dir, MANIFEST)) ? ({ ...(JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as KernelLab), buildMs: 0 }) : undefined;
  const hit = cached();
  if (hit !== undefined) return hit;
  return withLock(`${dir}.lock`, async () => {
    const again = cached();
    if (again !== undefined) return again;
    const started = performance.now();
    const work = `${dir}.build-${process.pid}`;
    rmSync(work, { recursive: true, force: true });
    const sys = join(work, 'root');
    mkdirSync(sys, { recursive: true });
    try {
      const specs = [packages.image, packages.headers, packages.headersCommon, packages.kbuild, packages.source];
      const debs = await withLock(join(root, 'apt.lock'), () => download(tools, root, specs));
      for (const s of [packages.image, packages.headers, packages.headersCommon, packages.kbuild]) {
        await run(tools.dpkgDeb, ['-x', debs.get(s) ?? '', sys], BIG);
      }
      const abi = packages.release.replace(/-amd64$/, '');
      const headers = join(sys, 'usr/src', `linux-headers-${packages.release}`);
      const common = join(sys, 'usr/src', `linux-headers-${abi}-common`);
      writeFileSync(join(headers, 'Makefile'), `include ${common}/Makefile\n`);

      const mttyDir = join(work, 'samples');
      mkdirSync(mttyDir);
      await run(
        'sh',
        ['-c', `"$1" --fsys-tarfile "$2" | "$3" -xO ./usr/src/${SOURCE_PACKAGE}.tar.xz | "$4" -dc | "$3" -x -C "$5" --strip-components=3 ${SAMPLE_FILES.map((f) => `"${SAMPLES_IN_TARBALL}/${f}"`).join(' ')}`, 'sh', tools.dpkgDeb, debs.get(packages.source) ?? '', tools.tar, tools.xz, mttyDir],
        BIG,
      );
      if (!readFileSync(join(mttyDir, 'mtty.c'), 'utf8').includes('mtty_set_state')) throw new Error(`${SAMPLES_IN_TARBALL}/mtty.c from ${packages.source} has no migration support`);
      writeFileSync(join(mttyDir, 'Kbuild'), `obj-m := ${SAMPLE_MODULES.map((m) => m.replace(/\.ko$/, '.o')).join(' ')}\n`);
      await run(tools.make, ['-C', headers, `M=${mttyDir}`, 'CONFIG_DEBUG_INFO_BTF_MODULES=', 'modules'], BIG);

      const out = `${dir}.tmp-${process.pid}`;
      rmSync(out, { recursive: true, force: true });
      mkdirSync(join(out, 'modules'), { recursive: true });
      mkdirSync(join(out, 'include', 'linux'), { recursive: true });
      const modules = await collectModules(tools, join(sys, 'lib/modules', packages.release, 'kernel'), LAB_MODULES, join(out, 'modules'));
      for (const m of SAMPLE_MODULES) copyFileSync(join(mttyDir, m), join(out, 'modules', m));
      copyFileSync(join(sys, 'boot', `vmlinuz-${packages.release}`), join(out, 'vmlinuz'));
      copyFileSync(join(common, 'include/uapi/linux/vfio.h'), join(out, 'include/linux/vfio.h'));
      const lab: KernelLab = {
        packages,
        dir,
        vmlinuz: join(dir, 'vmlinuz'),
        modules: [...modules.map((m) => m.replace(out, dir)), ...SAMPLE_MODULES.map((m) => join(dir, 'modules', m))],
        include: join(dir, 'include'),
        buildMs: performance.now() - started,
      };
      writeFileSync(join(out, MANIFEST), JSON.stringify(lab, null, 2));
      renameSync(out, dir);
      return lab;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

/**
 * Compiles a C program of ours statically against the lab kernel's uapi headers (cached by the
 * source's hash); returns the binary's path.
 */
export async function buildLabProgram(tools: LabTools, lab: KernelLab, source: string): Promise<string> {
  const text = readFileSync(source);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const name = source.split('/').at(-1)?.replace(/\.c$/, '') ?? 'program';
  const bin = join(lab.dir, 'bin', `${name}-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(join(lab.dir, 'bin'), { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}`;
  await run(tools.cc, ['-static', '-O2', '-Wall', '-D__user=', '-I', lab.include, '-o', tmp, source], BIG);
  renameSync(tmp, bin);
  return bin;
}
