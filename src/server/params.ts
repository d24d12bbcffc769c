/**
 * Narrowing `unknown` request fields, each failure an `E_BAD_PARAMS` {@link ServiceError} naming
 * the field by its path in the request (`params.snapshot.devices[0].stopCopyBytes`) and what was
 * expected. Shared by the method validators; allocation-free on success.
 */
import { ServiceError } from './errors.js';

export type Obj = Readonly<Record<string, unknown>>;

/** A short rendering of a bad value: never echoes a whole hostile input back. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

export function badParam(field: string, expected: string, v: unknown): ServiceError {
  return new ServiceError('E_BAD_PARAMS', `${field}: expected ${expected}, got ${show(v)}`, field);
}

export function object(v: unknown, field: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badParam(field, 'an object', v);
  return v as Obj;
}

export function array(v: unknown, field: string, maxLength: number): readonly unknown[] {
  if (!Array.isArray(v)) throw badParam(field, 'an array', v);
  if (v.length > maxLength) throw new ServiceError('E_BAD_PARAMS', `${field}: at most ${maxLength} elements, got ${v.length}`, field);
  return v;
}

/** A non-empty string of at most `maxLength` characters. */
export function text(o: Obj, key: string, at: string, maxLength = 256): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) throw badParam(`${at}.${key}`, `a non-empty string of ≤ ${maxLength} characters`, v);
  return v;
}

/** A finite number ≥ 0 (a time in ms, a rate). `!(v >= 0)` also catches NaN. */
export function nonNegative(o: Obj, key: string, at: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !(v >= 0) || v === Infinity) throw badParam(`${at}.${key}`, 'a finite number ≥ 0', v);
  return v;
}

/** A size in bytes: a safe integer ≥ 0. */
export function byteCount(o: Obj, key: string, at: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw badParam(`${at}.${key}`, 'an integer number of bytes ≥ 0', v);
  return v;
}

export function optionalBoolean(o: Obj, key: string, at: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || typeof v === 'boolean') return v;
  throw badParam(`${at}.${key}`, 'true or false', v);
}
