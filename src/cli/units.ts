/**
 * Units on the command line: sizes, rates and durations as people type them (`8GiB`, `127MiB/s`,
 * `10Gbit/s`, `300ms`, `2min`), turned into the library's internal units (bytes, bytes/s, ms), and
 * back for printing. A number without a unit, or a unit that is not one of these, is a
 * {@link UsageError} naming the flag and the value: a deadline of "300" could be ms or s, and a
 * rate of "128M" could be bits or bytes — guessing is how SLAs get missed.
 *
 * Binary prefixes (KiB, MiB, GiB, TiB) are powers of 1024; decimal ones (KB, MB, GB, TB, and every
 * bit rate: Kbit/s, Mbps, Gbit/s) powers of 1000, as in IEC 80000-13. QEMU's own names follow
 * suit except where noted by the caller (its "MB/s" for `vcpu-dirty-limit` is MiB/s).
 */
import { UsageError } from './command.js';

const BYTE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
};

/** Bit-rate prefixes → bits; `bit/s` and `bps` spellings share them. */
const BIT_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  t: 1e12,
  ki: 1024,
  mi: 1024 ** 2,
  gi: 1024 ** 3,
};

const DURATION_UNITS: Readonly<Record<string, number>> = {
  us: 1e-3,
  'µs': 1e-3,
  ms: 1,
  s: 1000,
  sec: 1000,
  min: 60_000,
  h: 3_600_000,
};

const NUMBER_THEN_UNIT = /^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+)\s*([^\s0-9].*?)?\s*$/;

/** Splits "127 MiB/s" into 127 and "MiB/s"; undefined when it does not start with a number ≥ 0. */
function split(text: string): { readonly value: number; readonly unit: string } | undefined {
  const m = NUMBER_THEN_UNIT.exec(text);
  if (m === null) return undefined;
  const value = Number(m[1]);
  if (!Number.isFinite(value)) return undefined;
  return { value, unit: m[2] ?? '' };
}

/** `value` when it is a finite number: `1e308s` is a number of seconds but not of ms (Infinity). */
function finite(value: number, flag: string, text: string): number {
  if (!Number.isFinite(value)) throw new UsageError(`${flag}: '${text}' is out of range (not a finite number once converted)`);
  return value;
}

function bad(flag: string, text: string, what: string, examples: string): UsageError {
  return new UsageError(`${flag}: '${text}' is not ${what} (use a number and a unit, e.g. ${examples})`);
}

/** A size in bytes (rounded to an integer): `8GiB`, `512 MiB`, `4096B`, `1.5GB`. */
export function parseSize(text: string, flag: string): number {
  const p = split(text);
  const factor = p === undefined ? undefined : BYTE_UNITS[p.unit.toLowerCase()];
  if (p === undefined || factor === undefined) throw bad(flag, text, 'a size', '8GiB, 512MiB, 1.5GB');
  return finite(Math.round(p.value * factor), flag, text);
}

/**
 * A rate in bytes/s: bytes per second (`127MiB/s`, `1.2GB/s`, `500 KiB/s`) or bits per second
 * (`10Gbit/s`, `800Mbps`, `25 Gb/s` — a lower-case `b` after a prefix means bits, as in network
 * speeds; `B` means bytes).
 */
export function parseRate(text: string, flag: string): number {
  const p = split(text);
  if (p !== undefined) {
    const bytes = bytesPerSecond(p.unit);
    if (bytes !== undefined) return finite(p.value * bytes, flag, text);
  }
  throw bad(flag, text, 'a rate', '127MiB/s, 1GB/s, 10Gbit/s, 800Mbps');
}

function bytesPerSecond(unit: string): number | undefined {
  // Bits first: "Gbit/s", "Gbps", "Gb/s" (case of the prefix does not matter, of the b does).
  const bits = /^([kKmMgGtT]i?)?(?:bit\/s|bps|b\/s)$/.exec(unit);
  if (bits !== null) {
    const factor = BIT_UNITS[(bits[1] ?? '').toLowerCase()];
    return factor === undefined ? undefined : factor / 8;
  }
  const bytes = /^(.+?)(?:\/s|ps)$/.exec(unit);
  if (bytes === null) return undefined;
  const size = bytes[1] ?? '';
  if (!size.endsWith('B')) return undefined;
  return BYTE_UNITS[size.toLowerCase()];
}

/** A duration in ms: `300ms`, `1.5s`, `2min`, `1h`, `500us`. */
export function parseDuration(text: string, flag: string): number {
  const p = split(text);
  const factor = p === undefined ? undefined : DURATION_UNITS[p.unit.toLowerCase()];
  if (p === undefined || factor === undefined) throw bad(flag, text, 'a duration', '300ms, 1.5s, 2min');
  return finite(p.value * factor, flag, text);
}

function trim(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** `8.00 GiB`, `127 MiB`, `512 B`: binary units, as QEMU and libvirt print memory. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;
  let v = Math.abs(bytes);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${bytes < 0 ? '-' : ''}${i === 0 ? v.toFixed(0) : trim(v)} ${units[i]}`;
}

/** `127 MiB/s`. */
export function formatRate(bytesPerS: number): string {
  return `${formatBytes(bytesPerS)}/s`;
}

/** `300 ms`, `45.1 s`, `12.5 min`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (Math.abs(ms) < 1000) return `${trim(ms)} ms`;
  if (Math.abs(ms) < 120_000) return `${trim(ms / 1000)} s`;
  return `${trim(ms / 60_000)} min`;
}
