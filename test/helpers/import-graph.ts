/**
 * The import graph of `src/`, folder by folder, and the two architecture counts the layering
 * rule is judged by: imports that run from a lower layer up to a higher one, and folder cycles.
 * `test/architecture.test.ts` asserts both are zero and prints what breaks them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * Rank of each top-level folder of `src/` (the file `src/index.ts` is the top): an import may go
 * to the same rank or lower, never higher. `package` (its version, its optional dependencies) is
 * a fact like `facts`. The core (fsm, the record contract, device,
 * estimators, governor, tuning) imports no edge; the edges share one rank and must not form
 * cycles; the service (server) composes a few of them; the use-case wing composes them and
 * the service; the CLI sits on top and nothing imports it.
 */
export const LAYER_RANK: Readonly<Record<string, number>> = {
  fsm: 0,
  records: 0,
  json: 0,
  facts: 0,
  package: 0,
  device: 1,
  estimators: 2,
  governor: 3,
  tuning: 4,
  files: 5,
  telemetry: 10,
  store: 10,
  qemu: 10,
  vfio: 10,
  sim: 10,
  report: 10,
  server: 20,
  app: 25,
  cli: 30,
  '(index)': 40,
};

export interface ImportEdge {
  readonly fromFile: string;
  readonly toFile: string;
}

const IMPORT_RE = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)'(\.{1,2}\/[^']+)'/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative import of every `.ts` file under `srcDir`, as paths relative to `srcDir`. */
export function importEdges(srcDir: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of sourceFiles(srcDir)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT_RE)) {
      const target = resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'));
      edges.push({ fromFile: relative(srcDir, file), toFile: relative(srcDir, target) });
    }
  }
  return edges;
}

/** `import { a } from '…'`, `import a from '…'`, `export … from '…'` and `import('…')`: not `import type`. */
const VALUE_IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s+(?!type\b)[^;'"]*?\bfrom\s*'(\.{1,2}\/[^']+)'|\bimport\s*\(\s*'(\.{1,2}\/[^']+)'\s*\)/g;

/** The value (not type-only) relative imports of `file` (relative to `src/`) whose text is `text`. */
export function valueImportsOf(file: string, text: string): ImportEdge[] {
  const out: ImportEdge[] = [];
  for (const m of text.matchAll(VALUE_IMPORT_RE)) {
    const spec = (m[1] ?? m[2])!.replace(/\.js$/, '.ts');
    out.push({ fromFile: file, toFile: join(dirname(file), spec) });
  }
  return out;
}

/** The value imports of every file of `src/cli/commands/`. */
export function commandValueImports(srcDir: string): ImportEdge[] {
  return sourceFiles(join(srcDir, 'cli', 'commands')).flatMap((f) => valueImportsOf(relative(srcDir, f), readFileSync(f, 'utf8')));
}

/**
 * Formatting modules a command may import besides `app/` and `cli/`: state names, the text of
 * "nothing matched", table layouts and renderers, the export's table names. They compute
 * nothing from a store, a model or a device.
 */
const FORMATTING_MODULES: ReadonlySet<string> = new Set([
  'fsm/index.ts',
  'report/describe.ts',
  'report/export-schema.ts',
  'report/outcome-stats.ts',
  'report/stats-tables.ts',
  'report/table-format.ts',
]);

/** Whether a command (`src/cli/commands/*`) may import `toFile` for its values: the CLI parses argv, calls a use case and formats. */
export function commandMayImport(toFile: string): boolean {
  return ['app', 'cli'].includes(layerOf(toFile)) || FORMATTING_MODULES.has(toFile);
}

/** The top-level folder of a path relative to `src/` (`(index)` for files at the root). */
export function layerOf(file: string): string {
  const parts = file.split(sep);
  return parts.length > 1 ? parts[0]! : '(index)';
}

/** Imports whose target layer ranks above the importer's. Unknown folders throw. */
export function upwardImports(edges: readonly ImportEdge[]): ImportEdge[] {
  const rank = (file: string): number => {
    const r = LAYER_RANK[layerOf(file)];
    if (r === undefined) throw new Error(`${file}: folder ${layerOf(file)} has no rank in LAYER_RANK`);
    return r;
  };
  return edges.filter((e) => rank(e.toFile) > rank(e.fromFile));
}

/**
 * Folder cycles: the strongly connected components (Tarjan) with more than one node of the graph
 * whose nodes are what `folderOf` maps a file to — by default its layer (top-level folder), so
 * `report` and `report/charts` are one node; pass `dirname` to see sub-folder cycles too.
 */
export function folderCycles(
  edges: readonly ImportEdge[],
  folderOf: (file: string) => string = layerOf,
): string[][] {
  const graph = new Map<string, Set<string>>();
  for (const e of edges) {
    const a = folderOf(e.fromFile);
    const b = folderOf(e.toFile);
    if (!graph.has(a)) graph.set(a, new Set());
    if (!graph.has(b)) graph.set(b, new Set());
    if (a !== b) graph.get(a)!.add(b);
  }
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const sccs: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) sccs.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return sccs;
}
