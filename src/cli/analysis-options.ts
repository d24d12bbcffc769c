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

/** SQLite's name for a private in-memory database (https://sqlite.org/inmemorydb.html), never a file. */
export const IN_MEMORY_DB = ':memory:';

/** Why a command that only reads has no use for `--db :memory:`. */
export const NOTHING_TO_READ = 'would be empty: there is nothing in it to read';

/**
 * `--db` resolved under `cwd` (default `data/vfio-sla.db`). `:memory:` means what it means to
 * SQLite — an in-memory database that is gone when the command ends — not a file of that name
 * in `cwd` (`./:memory:` still names one): returned as it is where `memory` is `'allowed'`,
 * else refused (exit 2) with `memory` as the reason.
 */
export function dbOption(raw: string | undefined, cwd: string, memory: 'allowed' | (string & {})): string {
  if (raw === IN_MEMORY_DB) {
    if (memory === 'allowed') return IN_MEMORY_DB;
    throw new UsageError(`--db ':memory:' is SQLite's in-memory database, which ${memory}; give a database file (./:memory: for a file of that name)`);
  }
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
  const db = dbOption(raw, cwd, NOTHING_TO_READ);
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
