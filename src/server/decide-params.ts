/**
 * `decide` params → the governor's {@link VmSnapshot} and {@link Slo}.
 *
 * ```json
 * {"snapshot": {"devices": [{"id": "0000:3b:00.1", "model": "mlx5-cx7", "state": "PRE_COPY_P2P",
 *               "flags": "STOP_COPY|P2P|PRE_COPY", "stopCopyBytes": 104857600}],
 *               "ramRemainingBytes": 67108864, "ramDirtyBytesPerS": 268435456,
 *               "precopyBandwidthBytesPerS": 1073741824, "elapsedMs": 10000},
 *  "slo": {"deadlineMs": 300, "alpha": 0.01, "budgetMs": 60000}}
 * ```
 *
 * States are kernel names (`"PRE_COPY"`) or numbers (6); flags the `VFIO_MIGRATION_*` bits as a
 * number (7) or names joined by `|`. `stopCopyBytes: null` is a failed MIG_DATA_SIZE query (the
 * governor then never commits). `slo.alpha` defaults to the server's `--alpha`; `slo.budgetMs`
 * absent or `null` means no budget (JSON has no Infinity). `snapshot.switchoverAck` is
 * `"not-required"` (the default), `"pending"` or `"received"`; `slo.guestTimeoutMs` a pause the
 * guest tolerates (absent or `null`: none). `snapshot.ramPassStartBytes` is QEMU's `ram.remaining`
 * at the start of each pre-copy pass after the first, oldest first (`VmSnapshot`);
 * a device's `reinit: true` is a PRECOPY_INFO that reported `VFIO_PRECOPY_INFO_REINIT`;
 * `snapshot.qemuVersion` the source QEMU (`"10.0.2"`: its calibration group and arc placement),
 * `snapshot.multifdChannels` and `snapshot.deviceStateMultifd` how the stop-copy data travels.
 * `slo.levels` (ascending miss levels in (0, 1), at most {@link MAX_LEVELS}) asks for the lowest
 * level in reach (`governor/risk-levels.ts`), starting at index `slo.level` (default 0: pass back
 * the `level` of the previous reply, so a VM never waits again for a bound it gave up on);
 * `slo.alpha` is then ignored. A lower level moves up only when its bound is out of reach within
 * `slo.budgetMs` (no budget: a VM pre-copy never drains that far waits on). Fields not named
 * here are ignored.
 */
import { MigFlags, isMigState, parseStateName, type MigState } from '../fsm/index.js';
import type { DeviceSnapshot, Slo, SwitchoverAck, VmSnapshot } from '../governor/types.js';
import { parseQemuRelease } from '../estimators/stack.js';
import { QEMU_MAX_MULTIFD_CHANNELS } from '../facts/qemu.js';
import { array, badParam, byteCount, nonNegative, object, optionalBoolean, text, type Obj } from './params.js';

/** More VFIO devices than any VM has: a bound on the work one request can ask for. */
export const MAX_DEVICES = 1024;

export interface DecideParams {
  readonly snapshot: VmSnapshot;
  readonly slo: Slo;
  /** `slo.levels` and `slo.level`, when a ladder was asked for. */
  readonly ladder?: { readonly levels: readonly number[]; readonly from: number };
}

/** Most `slo.levels` one request may name (the governor's ladder has two). */
export const MAX_LEVELS = 8;

function state(o: Obj, at: string): MigState {
  const v = o['state'];
  if (isMigState(v)) return v;
  const parsed = typeof v === 'string' ? parseStateName(v) : undefined;
  if (parsed === undefined) throw badParam(`${at}.state`, 'a VFIO migration state name (e.g. "PRE_COPY_P2P") or number 0..7', v);
  return parsed;
}

const FLAG_BITS: Readonly<Record<string, number>> = { STOP_COPY: MigFlags.STOP_COPY, P2P: MigFlags.P2P, PRE_COPY: MigFlags.PRE_COPY };

function flags(o: Obj, at: string): number {
  const v = o['flags'];
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 7) return v;
  if (typeof v === 'string' && v.length <= 64) {
    let bits = 0;
    for (const name of v.split('|')) {
      const bit = Object.hasOwn(FLAG_BITS, name.trim()) ? FLAG_BITS[name.trim()] : undefined;
      if (bit === undefined) throw badParam(`${at}.flags`, 'VFIO_MIGRATION_* bits: a number 0..7 or names like "STOP_COPY|P2P|PRE_COPY"', v);
      bits |= bit;
    }
    return bits;
  }
  throw badParam(`${at}.flags`, 'VFIO_MIGRATION_* bits: a number 0..7 or names like "STOP_COPY|P2P|PRE_COPY"', v);
}

function device(v: unknown, at: string): DeviceSnapshot {
  const o = object(v, at);
  const size = o['stopCopyBytes'];
  const d: { -readonly [K in keyof DeviceSnapshot]: DeviceSnapshot[K] } = {
    id: text(o, 'id', at),
    model: text(o, 'model', at),
    state: state(o, at),
    flags: flags(o, at),
    stopCopyBytes: size === null ? null : byteCount(o, 'stopCopyBytes', at),
  };
  if (o['initialBytes'] !== undefined) d.initialBytes = byteCount(o, 'initialBytes', at);
  if (o['dirtyBytes'] !== undefined) d.dirtyBytes = byteCount(o, 'dirtyBytes', at);
  const reinit = optionalBoolean(o, 'reinit', at);
  if (reinit !== undefined) d.reinit = reinit;
  return d;
}

function snapshot(v: unknown): VmSnapshot {
  const at = 'params.snapshot';
  const o = object(v, at);
  const list = array(o['devices'], `${at}.devices`, MAX_DEVICES);
  const devices = new Array<DeviceSnapshot>(list.length);
  for (let i = 0; i < list.length; i++) devices[i] = device(list[i], `${at}.devices[${i}]`);
  const s: { -readonly [K in keyof VmSnapshot]: VmSnapshot[K] } = {
    devices,
    ramRemainingBytes: nonNegative(o, 'ramRemainingBytes', at),
    ramDirtyBytesPerS: nonNegative(o, 'ramDirtyBytesPerS', at),
    precopyBandwidthBytesPerS: nonNegative(o, 'precopyBandwidthBytesPerS', at),
    elapsedMs: nonNegative(o, 'elapsedMs', at),
  };
  if (o['wwsBytes'] !== undefined) s.wwsBytes = nonNegative(o, 'wwsBytes', at);
  if (o['link'] !== undefined) s.link = text(o, 'link', at);
  const serial = optionalBoolean(o, 'serial', at);
  if (serial !== undefined) s.serial = serial;
  if (o['switchoverAck'] !== undefined) s.switchoverAck = switchoverAck(o, at);
  if (o['ramPassStartBytes'] !== undefined) s.ramPassStartBytes = passStarts(o['ramPassStartBytes'], `${at}.ramPassStartBytes`);
  if (o['qemuVersion'] !== undefined) {
    const v = o['qemuVersion'];
    if (typeof v !== 'string' || parseQemuRelease(v) === undefined) throw badParam(`${at}.qemuVersion`, 'a QEMU version "major.minor.micro" (query-version)', v);
    s.qemuVersion = v;
  }
  if (o['multifdChannels'] !== undefined) {
    const v = o['multifdChannels'];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > QEMU_MAX_MULTIFD_CHANNELS) throw badParam(`${at}.multifdChannels`, `an integer 1..${QEMU_MAX_MULTIFD_CHANNELS} (QEMU multifd-channels)`, v);
    s.multifdChannels = v;
  }
  const deviceStateMultifd = optionalBoolean(o, 'deviceStateMultifd', at);
  if (deviceStateMultifd !== undefined) s.deviceStateMultifd = deviceStateMultifd;
  return s;
}


/** More pass starts than the plateau test reads by far: a bound on one request's work. */
export const MAX_PASS_STARTS = 1024;

function passStarts(v: unknown, at: string): number[] {
  const list = array(v, at, MAX_PASS_STARTS);
  const out = new Array<number>(list.length);
  for (let i = 0; i < list.length; i++) {
    const b = list[i];
    if (typeof b !== 'number' || !Number.isSafeInteger(b) || b < 0) throw badParam(`${at}[${i}]`, 'an integer number of bytes ≥ 0', b);
    out[i] = b;
  }
  return out;
}

function slo(v: unknown, defaultAlpha: number, leveled: boolean): Slo {
  const at = 'params.slo';
  const o = object(v, at);
  const deadlineMs = o['deadlineMs'];
  if (typeof deadlineMs !== 'number' || !(deadlineMs > 0) || deadlineMs === Infinity) throw badParam(`${at}.deadlineMs`, 'a finite number of ms > 0', deadlineMs);
  const alpha = leveled ? defaultAlpha : (o['alpha'] ?? defaultAlpha);
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 1)) throw badParam(`${at}.alpha`, 'a miss probability in (0, 1)', alpha);
  const budget = o['budgetMs'];
  const budgetMs = budget === undefined || budget === null ? Infinity : nonNegative(o, 'budgetMs', at);
  const guest = o['guestTimeoutMs'];
  if (guest === undefined || guest === null) return { deadlineMs, alpha, budgetMs };
  if (typeof guest !== 'number' || !(guest > 0)) throw badParam(`${at}.guestTimeoutMs`, 'a number of ms > 0 (or null for none)', guest);
  return { deadlineMs, alpha, budgetMs, guestTimeoutMs: guest };
}

const SWITCHOVER_ACK: readonly SwitchoverAck[] = ['not-required', 'pending', 'received'];

function switchoverAck(o: Obj, at: string): SwitchoverAck {
  const v = o['switchoverAck'];
  const found = SWITCHOVER_ACK.find((a) => a === v);
  if (found === undefined) throw badParam(`${at}.switchoverAck`, `one of ${SWITCHOVER_ACK.map((a) => `"${a}"`).join(', ')}`, v);
  return found;
}

/** `slo.levels` and `slo.level`, or undefined without `levels`. */
function ladder(v: unknown): DecideParams['ladder'] {
  const at = 'params.slo';
  const o = object(v, at);
  if (o['levels'] === undefined || o['levels'] === null) return undefined;
  const list = array(o['levels'], `${at}.levels`, MAX_LEVELS);
  if (list.length === 0) throw badParam(`${at}.levels`, 'at least one miss level', o['levels']);
  const levels = new Array<number>(list.length);
  for (let i = 0; i < list.length; i++) {
    const a = list[i];
    if (typeof a !== 'number' || !(a > 0 && a < 1) || (i > 0 && !(a > (levels[i - 1] as number)))) {
      throw badParam(`${at}.levels[${i}]`, 'a miss probability in (0, 1), above the one before', a);
    }
    levels[i] = a;
  }
  const level = o['level'] ?? 0;
  if (typeof level !== 'number' || !Number.isInteger(level) || level < 0 || level >= levels.length) {
    throw badParam(`${at}.level`, `an index into levels, 0..${levels.length - 1}`, level);
  }
  return { levels, from: level };
}

/** Narrows `decide` params; throws `E_BAD_PARAMS` naming the first bad field. */
export function parseDecideParams(params: Obj, defaultAlpha: number): DecideParams {
  const snap = snapshot(params['snapshot']);
  const steps = ladder(params['slo']);
  // With levels, `alpha` is not read: the first level stands in for it (`Slo` needs one).
  const s = slo(params['slo'], steps?.levels[0] ?? defaultAlpha, steps !== undefined);
  return steps === undefined ? { snapshot: snap, slo: s } : { snapshot: snap, slo: s, ladder: steps };
}
