import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { commandValueImports, commandMayImport, folderCycles, importEdges, LAYER_RANK, layerOf, upwardImports, valueImportsOf } from './helpers/import-graph.js';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');
const edges = importEdges(SRC);

describe('the layering of src/', () => {
  it('reads the imports of every source file', () => {
    expect(edges.length).toBeGreaterThan(500);
    expect(edges.some((e) => e.fromFile === 'index.ts' && e.toFile === 'fsm/index.ts')).toBe(true);
  });

  it('gives every folder of src/ a rank', () => {
    const unranked = [...new Set(edges.flatMap((e) => [layerOf(e.fromFile), layerOf(e.toFile)]))].filter((l) => LAYER_RANK[l] === undefined);
    expect(unranked).toEqual([]);
  });

  it('has no import from a lower layer up to a higher one', () => {
    expect(upwardImports(edges).map((e) => `${e.fromFile} -> ${e.toFile}`)).toEqual([]);
  });

  it('has no cycle between folders', () => {
    expect(folderCycles(edges)).toEqual([]);
  });

  it('lets nothing but the CLI import cli/', () => {
    expect(edges.filter((e) => layerOf(e.toFile) === 'cli' && !['cli', '(index)'].includes(layerOf(e.fromFile)))).toEqual([]);
  });
});

describe('the CLI commands', () => {
  it('parse argv and format only: every value they import is a use case (app/), the CLI\'s own, or a formatting module', () => {
    const composing = commandValueImports(SRC).filter((e) => !commandMayImport(e.toFile));
    expect(composing.map((e) => `${e.fromFile} -> ${e.toFile}`)).toEqual([]);
  });

  it('the rule sees a command that opens a store itself, and lets type-only imports through', () => {
    const text = "import { openStore } from '../../store/store.js';\nimport type { FittedModel } from '../../estimators/types.js';\n" +
      "const { writeReport } = await import('../../report/build-report.js');\nimport { fitModelFile } from '../../app/fit.js';";
    const imports = valueImportsOf('cli/commands/x.ts', text);
    expect(imports.map((e) => e.toFile)).toEqual(['store/store.ts', 'report/build-report.ts', 'app/fit.ts']);
    expect(imports.filter((e) => !commandMayImport(e.toFile)).map((e) => e.toFile)).toEqual(['store/store.ts', 'report/build-report.ts']);
  });
});

describe('the graph helpers', () => {
  it('count an import from the core into an edge as upward', () => {
    expect(upwardImports([{ fromFile: 'governor/decide.ts', toFile: 'store/store.ts' }])).toHaveLength(1);
    expect(upwardImports([{ fromFile: 'store/store.ts', toFile: 'governor/decide.ts' }])).toEqual([]);
  });

  it('find a cycle through three folders', () => {
    const cycle = [
      { fromFile: 'qemu/a.ts', toFile: 'telemetry/b.ts' },
      { fromFile: 'telemetry/b.ts', toFile: 'store/c.ts' },
      { fromFile: 'store/c.ts', toFile: 'qemu/d.ts' },
    ];
    expect(folderCycles(cycle)).toEqual([['qemu', 'store', 'telemetry']]);
    expect(folderCycles(cycle.slice(0, 2))).toEqual([]);
  });
});

describe('SQL', () => {
  it('is written only in store/: no other folder prepares a statement on the SQLite handle', () => {
    const outside = edges
      .map((e) => e.fromFile)
      .filter((f, i, all) => all.indexOf(f) === i && layerOf(f) !== 'store')
      .filter((f) => /\.db\.(prepare|exec|pragma|transaction)\(|\bstore\.db\b/.test(readFileSync(join(SRC, f), 'utf8')));
    expect(outside).toEqual([]);
  });
});
