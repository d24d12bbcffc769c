/**
 * The wire protocol: JSON lines over a unix socket, one request object per line, one reply
 * line per request.
 *
 * ```
 * → {"id": 1, "method": "decide", "params": {"snapshot": {...}, "slo": {...}}}
 * ← {"id": 1, "result": {"action": "commit", "reason": "FITS", ...}}
 * ← {"id": 1, "error": {"code": "E_BAD_PARAMS", "message": "...", "field": "params.slo.deadlineMs"}}
 * ```
 *
 * `id` is any JSON scalar (string, number, boolean, null; absent means null) and comes back
 * as it was sent. Replies to slow requests (`fit`, `record` with `flush`) may come after
 * replies to later requests on the same connection, so a client that pipelines matches replies
 * by `id`. Numbers JSON cannot spell (NaN, ±Infinity) are written as `null`.
 */
import { ServiceError } from './errors.js';

/** A request id: any JSON scalar. */
export type RequestId = string | number | boolean | null;

/**
 * The protocol's version, reported by `health`. Raised when a reply changes in a way a client
 * must know: 2 added the `defer` action (`NO_CALIBRATED_MODEL`) to `decide`; 3 its `slo.levels`
 * (the lowest miss level in reach), answered with the `level` decided at.
 */
export const PROTOCOL_VERSION = 3;

/** Every method, in the order the docs list them. */
export const METHODS = ['decide', 'record', 'fit', 'model', 'health'] as const;
export type Method = (typeof METHODS)[number];

/** A request that passed the envelope checks; `params` is still `unknown` inside. */
export interface Request {
  readonly id: RequestId;
  readonly method: Method;
  /** `{}` when the request had none. */
  readonly params: Readonly<Record<string, unknown>>;
}

/** An envelope that failed: the error, and the id when it could be read (to answer it). */
export interface BadRequest {
  readonly id: RequestId;
  readonly error: ServiceError;
}

const NO_PARAMS: Readonly<Record<string, unknown>> = Object.freeze({});

function isMethod(v: unknown): v is Method {
  return v === 'decide' || v === 'record' || v === 'fit' || v === 'model' || v === 'health';
}

function isScalar(v: unknown): v is RequestId {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** Parses one request line (without its newline). Never throws. */
export function parseRequest(line: string): Request | BadRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    // V8 quotes a piece of the input in its message: keep the echo short.
    return { id: null, error: new ServiceError('E_BAD_JSON', `not JSON: ${(e as Error).message.slice(0, 160)}`) };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { id: null, error: new ServiceError('E_BAD_REQUEST', 'a request is a JSON object {"id", "method", "params"}') };
  }
  const o = value as Readonly<Record<string, unknown>>;
  const rawId = o['id'];
  if (rawId !== undefined && !isScalar(rawId)) {
    return { id: null, error: new ServiceError('E_BAD_REQUEST', 'id: expected a JSON scalar (string, number, boolean or null)', 'id') };
  }
  const id = rawId ?? null;
  const method = o['method'];
  if (typeof method !== 'string') {
    return { id, error: new ServiceError('E_BAD_REQUEST', 'method: expected a string', 'method') };
  }
  if (!isMethod(method)) {
    return { id, error: new ServiceError('E_UNKNOWN_METHOD', `unknown method ${JSON.stringify(method.slice(0, 64))}; methods: ${METHODS.join(', ')}`, 'method') };
  }
  const params = o['params'];
  if (params === undefined) return { id, method, params: NO_PARAMS };
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    return { id, error: new ServiceError('E_BAD_REQUEST', 'params: expected an object', 'params') };
  }
  return { id, method, params: params as Readonly<Record<string, unknown>> };
}

/** True when `parseRequest` failed. */
export function isBadRequest(r: Request | BadRequest): r is BadRequest {
  return 'error' in r;
}

/** The reply line for a result (with its newline). */
export function resultLine(id: RequestId, result: unknown): string {
  return `{"id":${JSON.stringify(id)},"result":${JSON.stringify(result)}}\n`;
}

/** The reply line for an error (with its newline). */
export function errorLine(id: RequestId, error: ServiceError): string {
  const body = error.field === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, field: error.field };
  return `{"id":${JSON.stringify(id)},"error":${JSON.stringify(body)}}\n`;
}
