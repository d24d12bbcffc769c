/** A fake CliIo that collects what a command writes. */
import { Writable } from 'node:stream';
import type { CliIo } from '../../src/cli/command.js';

export interface CapturedIo extends CliIo {
  out(): string;
  err(): string;
}

function sink(isTTY: boolean): Writable & { text: string; isTTY?: boolean } {
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      w.text += chunk.toString();
      cb();
    },
  }) as Writable & { text: string; isTTY?: boolean };
  w.text = '';
  if (isTTY) w.isTTY = true;
  return w;
}

/** `cwd` for relative paths and the default DB; `tty` makes stderr look like a terminal. */
export function captureIo(cwd: string, options: { tty?: boolean; env?: NodeJS.ProcessEnv } = {}): CapturedIo {
  const stdout = sink(false);
  const stderr = sink(options.tty ?? false);
  return { stdout, stderr, env: options.env ?? {}, cwd, out: () => stdout.text, err: () => stderr.text };
}
