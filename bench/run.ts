/**
 * Benchmark runner: runs each area's benchmark module (`bench/<area>.ts` exporting
 * `run(): Promise<Record<string, number>>`), prints the merged results as JSON and merges them
 * into `bench/results/latest.json` (relative to the working directory), keeping keys other runs
 * wrote. Run with `npm run bench`; `node dist-bench/bench/run.js sim` runs only the named ones.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

type Bench = () => Promise<Record<string, number>>;

/** Every benchmark, one line each. */
const BENCHMARKS: ReadonlyArray<readonly [string, () => Promise<{ run: Bench }>]> = [
  ['sim', () => import('./sim.js')],
  ['ingest', () => import('./ingest.js')],
  ['estimators', () => import('./estimators.js')],
  ['governor', () => import('./governor.js')],
  ['report', () => import('./report.js')],
  ['server', () => import('./server.js')],
  ['fleet', () => import('./fleet.js')],
];

// `npm run bench` runs from the package root.
const resultsFile = join(process.cwd(), 'bench', 'results', 'latest.json');

function readPrevious(): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

const only = process.argv.slice(2);
const results: Record<string, number> = {};
for (const [name, load] of BENCHMARKS) {
  if (only.length > 0 && !only.includes(name)) continue;
  Object.assign(results, await (await load()).run());
}
mkdirSync(dirname(resultsFile), { recursive: true });
writeFileSync(resultsFile, `${JSON.stringify({ ...readPrevious(), ...results }, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
