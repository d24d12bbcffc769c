import { parseArgs, type ParseArgsConfig } from 'node:util';
import { didYouMean } from './did-you-mean.js';

/**
 * One CLI sub-command. Each lives in `src/cli/commands/<name>.ts` and is listed in
 * `commands/index.ts`; `main.ts` only dispatches.
 */
export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Full `--help` text: usage line, options with units and defaults, an example. */
  readonly help: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: readonly string[], io: CliIo): Promise<number>;
}

/** The process edges a command may touch, injectable for tests. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** A usage mistake: printed with the command's usage line, exit code 2. */
export class UsageError extends Error {
  readonly code = 'E_USAGE' as const;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

/** `parseArgs`' "Unknown option '--seeds'" with the nearest option name appended. */
export function withSuggestion(message: string, optionNames: readonly string[]): string {
  const unknown = /^Unknown option '--([^'=]+)'/.exec(message);
  return unknown === null ? message : message.replace(/^(Unknown option '[^']+')/, `$1${didYouMean(unknown[1] as string, optionNames).replace(/'([^']+)'\?\)$/, "'--$1'?)")}`);
}

/**
 * `node:util` `parseArgs` in strict mode, the way every command parses its argv: unknown options,
 * missing values and (unless `allowPositionals`) stray arguments become a {@link UsageError}
 * naming them.
 */
export function parseCommandArgs<const O extends OptionSpecs>(
  argv: readonly string[],
  options: O,
  { allowPositionals = false }: { readonly allowPositionals?: boolean } = {},
): ReturnType<typeof parseArgs<{ args: string[]; strict: true; allowPositionals: true; options: O }>> {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; strict: true; allowPositionals: true; options: O }>>;
  try {
    parsed = parseArgs({ args: [...argv], strict: true, allowPositionals: true, options });
  } catch (e) {
    throw new UsageError(withSuggestion((e as Error).message, Object.keys(options)));
  }
  const stray = parsed.positionals[0];
  if (!allowPositionals && stray !== undefined) throw new UsageError(`unexpected argument '${stray}'`);
  return parsed;
}
