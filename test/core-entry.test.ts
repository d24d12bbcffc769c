/**
 * `vfio-sla/core` stays light: everything it loads, followed import by import from its source,
 * is pure code, Node built-ins and simple-statistics (a plain dependency) — no SQLite, DuckDB,
 * Vega, RxJS, and no store, report, server, simulator or QMP code.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importOptional, MissingDependencyError } from '../src/package/optional-dependency.js';

const SRC = join(import.meta.dirname, '../src');

/** Files and packages a module loads at run time (type-only imports load nothing). */
function runtimeImports(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?\bfrom\s+'([^']+)'/gms)) {
      const spec = m[1] as string;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
    for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) packages.add(m[1] as string);
  };
  visit(join(SRC, entry));
  return { files: [...files].map((f) => relative(SRC, f)).sort(), packages: [...packages].sort() };
}

describe('vfio-sla/core', () => {
  const core = runtimeImports('core.ts');

  it('loads only Node built-ins and simple-statistics (a plain, pure-JS dependency the estimators use)', () => {
    expect(core.packages.filter((p) => !p.startsWith('node:'))).toEqual(['simple-statistics']);
  });

  it('loads nothing from the store, telemetry pipeline, report, server, simulator or QMP layers', () => {
    expect(core.files.filter((f) => /^(store|telemetry|report|server|sim|qemu|tuning)\//.test(f))).toEqual([]);
    expect(core.files).toContain('governor/deadline-set-state.ts');
  });

  it('is what the main entry loads these heavy packages through, lazily (the walk sees them)', () => {
    const main = runtimeImports('index.ts');
    expect(main.packages).toEqual(expect.arrayContaining(['@duckdb/node-api', 'vega', 'vega-lite', 'rxjs']));
    expect(main.packages).not.toContain('better-sqlite3'); // required on first Store.open (store/sqlite.ts)
  });
});

describe('importOptional', () => {
  it('names the missing package and what needed it', async () => {
    const name = 'vfio-sla-no-such-package';
    const e = await importOptional(name, 'the test', () => import(name)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MissingDependencyError);
    expect(e).toMatchObject({ code: 'E_MISSING_DEPENDENCY', packageName: name });
    expect((e as Error).message).toBe(
      `the test needs ${name}, an optional dependency of vfio-sla that is not installed (npm install ${name}; a plain 'npm install vfio-sla' includes it, --omit=optional leaves it out)`,
    );
  });

  it('passes on any other failure of the module', async () => {
    await expect(importOptional('x', 'y', () => Promise.reject(new TypeError('inside')))).rejects.toThrow(TypeError);
  });
});
