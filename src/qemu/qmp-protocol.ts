/**
 * QMP wire messages (QEMU `docs/interop/qmp-spec.rst`) and the validator that narrows one
 * received line into one of them. Server → client, a line is exactly one of: the greeting
 * `{"QMP": {"version", "capabilities"}}`, a success `{"return": ..., "id"?}`, an error
 * `{"error": {"class", "desc"}, "id"?}`, or an event `{"event", "data"?, "timestamp"}`.
 */
import { isJsonObject, type JsonObject } from '../json/guards.js';

/** `version.qemu` of the greeting (qapi/control.json `VersionTriple`). */
export interface QemuVersionTriple {
  readonly major: number;
  readonly minor: number;
  readonly micro: number;
}

/** The server greeting (qmp-spec.rst "Server Greeting"; qapi/control.json `VersionInfo`). */
export interface QmpGreeting {
  readonly version: { readonly qemu: QemuVersionTriple; readonly package: string };
  /** `QMPCapability` values the server offers, e.g. `oob` (QEMU 2.12+). */
  readonly capabilities: readonly string[];
}

/** QMP event time: host wall clock when QEMU emitted the event (`qemu_clock_get_us`-based). */
export interface QmpTimestamp {
  readonly seconds: number;
  readonly microseconds: number;
}

/**
 * One asynchronous event as the client received it. `timestamp` is QEMU's; `receivedAtMs` is
 * the client's clock (epoch ms) when the line arrived.
 */
export interface QmpReceivedEvent<Data = Readonly<Record<string, unknown>>> {
  readonly event: string;
  /** `{}` when QEMU sent no `data` member. */
  readonly data: Data;
  readonly timestamp: QmpTimestamp;
  readonly receivedAtMs: number;
}

/** A received line, narrowed. `id` is whatever the command carried (this client sends strings). */
export type QmpMessage =
  | { readonly type: 'greeting'; readonly greeting: QmpGreeting }
  | { readonly type: 'return'; readonly id: unknown; readonly value: unknown }
  | { readonly type: 'error'; readonly id: unknown; readonly errorClass: string; readonly desc: string }
  | {
      readonly type: 'event';
      readonly event: string;
      readonly data: Readonly<Record<string, unknown>>;
      readonly timestamp: QmpTimestamp;
    }
  | { readonly type: 'invalid'; readonly why: string };

/** What a wire line was; `command` is the only kind the client sends. */
export type QmpWireKind = 'greeting' | 'return' | 'error' | 'event' | 'invalid' | 'command';

/**
 * One line on the wire, for recorders: received lines as QEMU sent them (terminator stripped),
 * sent lines as written. `atMs` is the client's clock (epoch ms) at receive / send time.
 */
export interface QmpWireLine {
  readonly direction: 'in' | 'out';
  readonly kind: QmpWireKind;
  readonly line: string;
  readonly atMs: number;
  /**
   * The command sent, or the command a reply answers — absent for events, the greeting, and a
   * reply that arrived after its command timed out.
   */
  readonly command?: string;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function parseGreeting(body: unknown): QmpGreeting | undefined {
  if (!isJsonObject(body)) return undefined;
  const version = body['version'];
  const caps = body['capabilities'];
  if (!isJsonObject(version) || !Array.isArray(caps)) return undefined;
  const qemu = version['qemu'];
  if (!isJsonObject(qemu)) return undefined;
  const { major, minor, micro } = qemu;
  if (!isFiniteNumber(major) || !isFiniteNumber(minor) || !isFiniteNumber(micro)) return undefined;
  const pkg = version['package'];
  return {
    version: { qemu: { major, minor, micro }, package: typeof pkg === 'string' ? pkg : '' },
    capabilities: caps.filter((c): c is string => typeof c === 'string'),
  };
}

/** Narrows one received line. Never throws: a bad line comes back as `{ type: 'invalid' }`. */
export function parseQmpMessage(line: string): QmpMessage {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return { type: 'invalid', why: `not JSON (${(e as Error).message})` };
  }
  if (!isJsonObject(v)) return { type: 'invalid', why: 'not a JSON object' };
  if ('QMP' in v) {
    const greeting = parseGreeting(v['QMP']);
    return greeting === undefined ? { type: 'invalid', why: 'malformed greeting' } : { type: 'greeting', greeting };
  }
  if ('return' in v) return { type: 'return', id: v['id'], value: v['return'] };
  if ('error' in v) {
    const err = v['error'];
    if (!isJsonObject(err)) return { type: 'invalid', why: 'error member is not an object' };
    const errorClass = typeof err['class'] === 'string' ? err['class'] : 'GenericError';
    const desc = typeof err['desc'] === 'string' ? err['desc'] : '';
    return { type: 'error', id: v['id'], errorClass, desc };
  }
  const event = v['event'];
  if (typeof event === 'string') {
    const ts = v['timestamp'];
    if (!isJsonObject(ts) || !isFiniteNumber(ts['seconds']) || !isFiniteNumber(ts['microseconds'])) {
      return { type: 'invalid', why: `event ${event} has no valid timestamp` };
    }
    const data = v['data'];
    return {
      type: 'event',
      event,
      data: isJsonObject(data) ? data : {},
      timestamp: { seconds: ts['seconds'], microseconds: ts['microseconds'] },
    };
  }
  return { type: 'invalid', why: 'neither greeting, return, error nor event' };
}
