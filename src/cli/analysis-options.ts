/**
 * Option handling shared by `stats`, `report` and `export`: the analysis filter from
 * `--device-model`, `--arc`, `--since`, `--policy`, `--migration-prefix`, and the database path, each refused with a
 * message naming the option and the value.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import type { AnalysisFilter } from '../store/analysis.js';
import { arcStates } from '../report/filter.js';
import { parseTimeSpec } from '../report/since.js';
import { defaultDbPath } from '../store/store.js';
import { UsageError, parseCommandArgs } from './command.js';

/** The command's options in strict mode, without positionals (see {@link parseCommandArgs}). */
export function parseOptions<const O extends NonNullable<ParseArgsConfig['options']>>(
  argv: readonly string[],
  options: O,
): ReturnType<typeof parseCommandArgs<O>>['values'] {
  return parseCommandArgs(argv, options).values;
}

/** The filter options as `parseArgs` returns them. */
export interface RawFilterOptions {
  readonly 'device-model'?: string | undefined;
  readonly arc?: string | undefined;
  readonly since?: string | undefined;
  readonly policy?: string | undefined;
  readonly 'migration-prefix'?: string | undefined;
}

/** `parseArgs` option specs of the filter options. */
export const FILTER_OPTION_SPECS = {
  'device-model': { type: 'string' },
  arc: { type: 'string' },
  since: { type: 'string' },
  policy: { type: 'string' },
  'migration-prefix': { type: 'string' },
} as const;

/** The analysis filter the options name; `nowMs` anchors `--since 7d`. */
export function filterFromOptions(v: RawFilterOptions, nowMs: number): AnalysisFilter {
  const out: { -readonly [K in keyof AnalysisFilter]: AnalysisFilter[K] } = {};
  if (v['device-model'] !== undefined) out.deviceModel = v['device-model'];
  if (v.policy !== undefined) out.policy = v.policy;
  if (v['migration-prefix'] !== undefined) out.migrationPrefix = v['migration-prefix'];
  if (v.arc !== undefined) {
    // FROM:TO needs no quotes in a shell, where an unquoted FROM>TO redirects to a file.
    const arc = v.arc.includes('>') ? v.arc : v.arc.replace(':', '>');
    try {
      arcStates(arc);
    } catch {
      throw new UsageError(`--arc must be FROM:TO or 'FROM>TO' state names (e.g. PRE_COPY_P2P:STOP_COPY), got '${v.arc}'`);
    }
    out.arc = arc;
  }
  const sinceMs = sinceOption(v.since, nowMs);
  if (sinceMs !== undefined) out.sinceMs = sinceMs;
  return out;
}

/** The database `--db` names: `raw` resolved against `cwd`, or `data/vfio-sla.db` under `cwd`. */
export function dbOption(raw: string | undefined, cwd: string): string {
  return raw === undefined ? defaultDbPath(cwd) : resolve(cwd, raw);
}

/** `--since <T>` (see `report/since.ts`) as ms since the epoch, `undefined` when not given. */
export function sinceOption(raw: string | undefined, nowMs: number): number | undefined {
  if (raw === undefined) return undefined;
  try {
    return parseTimeSpec(raw, nowMs);
  } catch (e) {
    throw new UsageError(`--since: ${(e as Error).message}`);
  }
}

/** The database `--db` names (default `data/vfio-sla.db` under `cwd`), which must exist. */
export function existingDb(raw: string | undefined, cwd: string): string {
  const db = dbOption(raw, cwd);
  if (!existsSync(db)) throw new UsageError(`--db: no database at '${raw ?? db}' (import telemetry first: vfio-sla import)`);
  return db;
}

/** A non-negative integer option, or `fallback` when absent. */
export function countOption(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got '${raw}'`);
  return n;
}

/** One of `allowed`, or `fallback` when absent. */
export function choiceOption<T extends string>(name: string, raw: string | undefined, allowed: readonly T[], fallback: T): T {
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got '${raw}'`);
  return raw as T;
}
