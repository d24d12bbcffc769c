/**
 * Narrowing of `unknown` values that came from JSON (QMP replies and events, QEMU's
 * `query-pci`, record files) or from a `catch`: the shape checks every reader of such values
 * shares, written once.
 */

/** A JSON object: not `null`, not an array. */
export type JsonObject = Readonly<Record<string, unknown>>;

/** Whether `v` is a JSON object (an object that is neither `null` nor an array). */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Whether `error` carries a string `code` (a Node.js system error, a `DeviceError`, our typed errors). */
export function hasStringCode(error: unknown): error is { readonly code: string } {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string';
}
