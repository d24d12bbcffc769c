/**
 * `vfio-sla import <files...>`: telemetry files into the SQLite store, through the recording
 * pipeline. Exit 0 when everything was accepted, 1 when anything was rejected (or the store
 * could not take it), 2 on a usage error.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ImportSummary } from '../../app/import-files.js';
import { importIntoStore, linkOptionProblem } from '../../app/import-store.js';
import { UsageError, parseCommandArgs, type CliIo, type Command } from '../command.js';
import { dbOption, IN_MEMORY_DB } from '../analysis-options.js';
import { visible } from '../../report/table-format.js';
import { createProgress } from '../progress.js';

const HELP = `Usage: vfio-sla import <files...> [--db <path>] [--link <name>] [--json] [--max-errors <n>] [--retry-for <s>]

Imports telemetry into the SQLite store. The format is detected per file:
  - our JSON-lines records, one object per line with "kind" first
    (arc, size, transfer, ram, outcome: see design.md "Telemetry records");
  - a QMP wire log: JSON lines of query-migrate replies (with a top-level "ts") and events;
  - a JSON array of polls [{"t_monotonic"|"ts", "query_migrate": {...}}, ...].
Bad lines are stored in the rejects table with file:line and a reason; the rest is imported.
Importing the same file again adds nothing (records have stable ids).

Options:
  --db <path>          database file (default: data/vfio-sla.db under the current directory)
  --link <name>        the link these migrations crossed (a NIC name or a class such as 25G,
                       1-128 characters): tags the transfers of the migrations these files
                       brought that name no link themselves (QMP logs never do), so the fit
                       learns this link's blackout rate; safe to repeat on files already imported
  --json               print the summary as JSON on stdout
  --max-errors <n>     rejects listed in the summary (default: 10)
  --retry-for <s>      while the database is locked or full, keep retrying this many seconds
                       before giving up (default: 60); records not written by then are kept
                       in <db>.spill-<pid>.jsonl and written by the next import
  -h, --help           this help

A progress bar is drawn on stderr when it is a terminal (not when CI=true).

Exit status: 0 all input accepted; 1 some input rejected, or the store failed; 2 usage error.

Example:
  vfio-sla import ../shared/datasets/qemu-kvm-postgres-migration/raw/*/mig-stats-run-*.json
  vfio-sla import run.jsonl --db /var/lib/vfio-sla/fleet.db --json
  vfio-sla import lab-25g/*.json --link 25G`;

interface ImportArgs {
  readonly files: string[];
  readonly db: string;
  readonly json: boolean;
  readonly maxErrors: number;
  readonly retryForMs: number;
  readonly link: string | undefined;
}

function positiveNumber(name: string, raw: string | undefined, fallback: number, integer: boolean): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be a non-negative ${integer ? 'integer' : 'number'}, got '${raw}'`);
  }
  return n;
}

function parse(argv: readonly string[], io: CliIo): ImportArgs {
  const parsed = parseCommandArgs(argv, {
      db: { type: 'string' },
      json: { type: 'boolean', default: false },
      'max-errors': { type: 'string' },
      'retry-for': { type: 'string' },
      link: { type: 'string' },
    }, { allowPositionals: true });
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError('no files given');
  const files = positionals.map((f) => resolve(io.cwd, f));
  for (const [i, f] of files.entries()) {
    if (!existsSync(f) || !statSync(f).isFile()) throw new UsageError(`not a readable file: '${positionals[i] ?? f}'`);
  }
  const link = values.link;
  const linkProblem = linkOptionProblem(link);
  if (linkProblem !== undefined) throw new UsageError(linkProblem);
  return {
    files,
    link,
    db: dbOption(values.db, io.cwd, 'allowed'), // :memory: checks and counts, keeping nothing (textSummary says so)
    json: values.json,
    maxErrors: positiveNumber('max-errors', values['max-errors'], 10, true),
    retryForMs: positiveNumber('retry-for', values['retry-for'], 60, false) * 1000,
  };
}

/** Transfers tagged by `--link`. */
interface LinkTagging {
  readonly link: string;
  readonly linkTagged: number;
}

function textSummary(s: ImportSummary, db: string, tagging: LinkTagging | undefined): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const lines = [
    `imported ${s.files.length} file${s.files.length === 1 ? '' : 's'} into ${db}: ` +
      `${n(s.accepted)} records accepted (${n(s.inserted)} new, ${n(s.duplicates)} already stored), ${n(s.rejected)} rejected`,
  ];
  if (tagging !== undefined) lines.push(`tagged ${n(tagging.linkTagged)} transfers with link ${tagging.link}`);
  const byMtime = s.files.filter((f) => f.timedByMtime !== undefined);
  if (byMtime.length > 0) {
    const example = byMtime[0];
    lines.push(
      `${byMtime.length} file${byMtime.length === 1 ? '' : 's'} had only monotonic times (t_monotonic): dated by the file's modification time ` +
        `as its last poll (${example?.file ?? ''}: ${example?.timedByMtime ?? ''}${byMtime.length > 1 ? ', ...' : ''}); add a "ts" (Unix seconds) to each poll for exact dates`,
    );
  }
  if (s.errors.length > 0) {
    lines.push(s.rejected > s.errors.length ? `first ${s.errors.length} errors:` : 'errors:');
    // File names come from folders others may write: their escape sequences must not reach the terminal.
    for (const e of s.errors) lines.push(`  ${visible(e.file)}${e.line === undefined ? '' : `:${e.line}`}: ${visible(e.reason)}`);
  }
  if (!s.complete) lines.push('import stopped before the end: the database stayed unavailable (see errors above)');
  if (db === IN_MEMORY_DB) lines.push(`${IN_MEMORY_DB} is an in-memory database: the records were checked and counted, and nothing was kept`);
  return lines.join('\n');
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parse(argv, io);
  const progress = createProgress(io.stderr, io.env, { label: 'import', total: 0, unit: 'bytes' });
  let done: Awaited<ReturnType<typeof importIntoStore>>;
  try {
    done = await importIntoStore({
      files: args.files,
      db: args.db,
      maxErrors: args.maxErrors,
      retryForMs: args.retryForMs,
      link: args.link,
      onProgress: (bytes, total) => progress.update(bytes, total),
      onStoreFault: (e) => io.stderr.write(e.corrupt ? `vfio-sla import: ${args.db}: ${e.message}\n` : `vfio-sla import: ${e.message}\n`),
      onStoreBack: () => io.stderr.write('vfio-sla import: database available again, continuing\n'),
    });
  } finally {
    progress.finish();
  }
  const { summary, tagging, closeError } = done;
  if (args.json) {
    io.stdout.write(`${JSON.stringify({ db: args.db, ...summary, ...tagging, ...(closeError ? { error: closeError.message } : {}) }, null, 2)}\n`);
  } else {
    io.stdout.write(`${textSummary(summary, args.db, tagging)}\n`);
  }
  if (closeError !== undefined) io.stderr.write(`vfio-sla import: ${closeError.message}\n`);
  return summary.rejected > 0 || !summary.complete || closeError !== undefined ? 1 : 0;
}

/** The `import` command. */
export const importCommand: Command = {
  name: 'import',
  summary: 'import telemetry (our JSON-lines records, QEMU QMP logs) into the SQLite store',
  help: HELP,
  run,
};
