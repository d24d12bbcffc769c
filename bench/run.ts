/**
 * Benchmark runner: runs each area's benchmark module (`bench/<area>.ts` exporting
 * `run(): Promise<Record<string, number>>`), prints the merged results as JSON and merges them
 * into `bench/results/latest.json` (relative to the working directory), keeping keys other runs
 * wrote. Run with `npm run bench`; `node dist-bench/bench/run.js sim` runs only the named ones,
 * and runs the on-demand ones (`law-frontier`) that `npm run bench` leaves out.
 *
 * With no names, each area runs in a child process of its own, so one area's heap (the 1 M-row
 * benchmarks leave plenty) and JIT state do not land in another's tail latencies.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Bench = () => Promise<Record<string, number>>;

/** Every benchmark, one line each. */
const BENCHMARKS: ReadonlyArray<readonly [string, () => Promise<{ run: Bench }>]> = [
  ['sim', () => import('./sim.js')],
  ['ingest', () => import('./ingest.js')],
  ['long-line', () => import('./long-line.js')],
  ['estimators', () => import('./estimators.js')],
  ['governor', () => import('./governor.js')],
  ['report', () => import('./report.js')],
  ['server', () => import('./server.js')],
  ['fleet', () => import('./fleet.js')],
];

/** Run only when named (`node dist-bench/bench/run.js law-frontier`): too slow for every `npm run bench`. */
const ON_DEMAND: ReadonlyArray<readonly [string, () => Promise<{ run: Bench }>]> = [['law-frontier', () => import('./law-frontier.js')]];

// `npm run bench` runs from the package root.
const resultsFile = join(process.cwd(), 'bench', 'results', 'latest.json');

function readPrevious(): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** Runs one area in a fresh process (this script with its name) and returns what it printed. */
function runIsolated(name: string): Record<string, number> {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (child.status !== 0) throw new Error(`benchmark '${name}' failed (exit ${String(child.status)})`);
  return JSON.parse(child.stdout) as Record<string, number>;
}

const only = process.argv.slice(2);
const known = new Set([...BENCHMARKS, ...ON_DEMAND].map(([name]) => name));
for (const name of only) if (!known.has(name)) throw new Error(`no benchmark '${name}' (known: ${[...known].join(', ')})`);
const results: Record<string, number> = {};
for (const [name, load] of BENCHMARKS) {
  if (only.length === 0) Object.assign(results, runIsolated(name));
  else if (only.includes(name)) Object.assign(results, await (await load()).run());
}
for (const [name, load] of ON_DEMAND) if (only.includes(name)) Object.assign(results, await (await load()).run());
mkdirSync(dirname(resultsFile), { recursive: true });
writeFileSync(resultsFile, `${JSON.stringify({ ...readPrevious(), ...results }, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
