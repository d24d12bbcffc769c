#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AppInputError } from '../app/errors.js';
import { OutputTargetError } from '../files/output-target.js';
import { UsageError, type CliIo } from './command.js';
import { COMMANDS } from './commands/index.js';
import { VERSION } from '../package/version.js';
import { didYouMean } from './did-you-mean.js';
import { visible } from '../report/table-format.js';


/** The top-level help: what the tool is for and every command. */
export function topHelp(): string {
  const width = Math.max(8, ...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'vfio-sla — make live migration of VMs with VFIO devices meet a downtime deadline',
    '',
    'Usage: vfio-sla <command> [options]      vfio-sla <command> --help',
    '',
    'Commands:',
    ...(lines.length > 0 ? lines : ['  (none yet)']),
    '',
    'Global options: -h/--help, -V/-v/--version',
  ].join('\n');
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(topHelp() + '\n');
    return 0;
  }
  if (name === '--version' || name === '-V' || name === '-v') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr.write(`vfio-sla: unknown command '${visible(name)}'${didYouMean(name, COMMANDS.map((c) => c.name))}\n\n${topHelp()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.help.trimEnd() + '\n');
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError || e instanceof OutputTargetError || e instanceof AppInputError) {
      io.stderr.write(`vfio-sla ${name}: ${visibleLines(e.message)}\n(see: vfio-sla ${name} --help)\n`);
      return 2;
    }
    const err = e as Error & { code?: string };
    // Node's own messages already start with their code ("EISDIR: illegal operation..."): say it once.
    const code = err.code !== undefined && !err.message.startsWith(`${err.code}:`) ? `${err.code}: ` : '';
    io.stderr.write(`vfio-sla ${name}: ${code}${visibleLines(err.message)}\n`);
    return 1;
  }
}

/**
 * An error message as the terminal should show it: it quotes paths and names (from argv, file
 * names in a shared folder, stored records), whose escape sequences must not reach the terminal.
 */
function visibleLines(message: string): string {
  return message.split('\n').map(visible).join('\n');
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
  runCli(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`vfio-sla: internal error: ${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
