/**
 * QEMU's version as a migration's records carry it (`StackRecord.qemuVersion`): `VersionInfo` of
 * `qapi/control.json` — what `query-version` returns and the QMP greeting carries as
 * `QMP.version` (`docs/interop/qmp-spec.rst`, "Server Greeting") — as `major.minor.micro`.
 */

import { isJsonObject as isObject, type JsonObject as Json } from '../json/guards.js';

const part = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v < 10_000;

/** `"10.0.2"` of a `VersionInfo` (`{"qemu": {"major", "minor", "micro"}, "package"}`); undefined when `v` is not one. */
export function versionInfoString(v: unknown): string | undefined {
  if (!isObject(v) || !isObject(v['qemu'])) return undefined;
  const { major, minor, micro } = v['qemu'];
  return part(major) && part(minor) && part(micro) ? `${major}.${minor}.${micro}` : undefined;
}

/** The QEMU version a wire-log line states: a greeting's `QMP.version`, or a `query-version` reply. */
export function lineQemuVersion(v: Json): string | undefined {
  if (isObject(v['QMP'])) return versionInfoString(v['QMP']['version']);
  return 'return' in v ? versionInfoString(v['return']) : undefined;
}
