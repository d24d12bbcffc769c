/**
 * A minimal writer of the `newc` cpio format the Linux kernel unpacks as an initramfs
 * (`Documentation/driver-api/early-userspace/buffer-format.rst`, `init/initramfs.c`): per entry
 * a 110-byte ASCII header (`070701` + 13 eight-digit hex fields), the NUL-terminated name padded
 * to 4 bytes, the data padded to 4 bytes; a `TRAILER!!!` entry ends the archive. Written here so
 * the harness needs no `cpio` binary.
 */

export type CpioEntry =
  | { readonly type: 'dir'; readonly name: string; readonly mode?: number }
  | { readonly type: 'file'; readonly name: string; readonly data: Buffer; readonly mode?: number }
  | { readonly type: 'char'; readonly name: string; readonly major: number; readonly minor: number; readonly mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function header(fields: readonly number[]): string {
  return `070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`;
}

function record(ino: number, name: string, mode: number, data: Buffer, rdev: readonly [number, number]): Buffer {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const nlink = (mode & S_IFDIR) === S_IFDIR ? 2 : 1;
  // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  const head = header([ino, mode, 0, 0, nlink, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0]);
  const headAndName = 110 + nameBytes.length;
  return Buffer.concat([
    Buffer.from(head, 'ascii'),
    nameBytes,
    Buffer.alloc(pad4(headAndName)),
    data,
    Buffer.alloc(pad4(data.length)),
  ]);
}

/** The archive for `entries` (names relative, without a leading `/`; parents before children). */
export function newcArchive(entries: readonly CpioEntry[]): Buffer {
  const parts = entries.map((e, i) => {
    const ino = i + 1;
    switch (e.type) {
      case 'dir':
        return record(ino, e.name, S_IFDIR | (e.mode ?? 0o755), Buffer.alloc(0), [0, 0]);
      case 'file':
        return record(ino, e.name, S_IFREG | (e.mode ?? 0o644), e.data, [0, 0]);
      case 'char':
        return record(ino, e.name, S_IFCHR | (e.mode ?? 0o600), Buffer.alloc(0), [e.major, e.minor]);
    }
  });
  parts.push(record(0, 'TRAILER!!!', 0, Buffer.alloc(0), [0, 0]));
  return Buffer.concat(parts);
}
