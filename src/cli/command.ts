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
