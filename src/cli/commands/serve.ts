/**
 * `vfio-sla serve --socket <path>`: the local service for VMMs written in C, Rust or Go (JSON
 * lines over a unix socket, src/server). Runs until SIGTERM or SIGINT, then drains: stops
 * accepting, answers what is pending, commits every record, removes the socket, exits 0.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_MAX_CONNECTIONS, MAX_SOCKET_PATH_BYTES, serveUntil } from '../../app/serve.js';
import { dbOption } from '../analysis-options.js';
import { UsageError, parseCommandArgs, type CliIo, type Command } from '../command.js';

const HELP = `Usage: vfio-sla serve --socket <path> [--db <path> | --no-db] [--model <file>]
                      [--priors <file>] [--group <name|gid>] [--alpha <a>] [--max-connections <n>]
                      [--abort-without-model]

Answers JSON-lines requests on a unix socket, one object per line:
  {"id": 1, "method": "decide", "params": {"snapshot": {...}, "slo": {"deadlineMs": 300}}}
methods: decide (commit/wait/throttle/abort/defer, with the numbers), record (telemetry into the
store), fit (refit from the store in a worker thread, swap the model), model (what is loaded),
health. Bad requests get {"id", "error": {"code", "message", "field"}} and the connection stays
usable. The socket is created with mode 0600 (0660 with --group).

An abort that rests on a bound the model has not calibrated for the request's devices (the
priors; a fit from fewer than 99 migrations at alpha 0.01; a device model the calibration never
saw) is answered "action": "defer", "reason": "NO_CALIBRATED_MODEL": use your own switchover
rule (QEMU's downtime-limit), do not cancel; "governor" holds the abort and its reason.
--abort-without-model passes such aborts on instead. A device in ERROR or a spent budget is an
abort either way.

The model: the --model file; else a fit of the database if it holds telemetry; else the
package's priors (public figures only; health says "source": "priors").

Options:
  --socket <path>         where to listen (required; at most 107 bytes, the unix socket limit);
                          a stale socket there is replaced, a live server there refuses the start
  --db <path>             database for record and fit (default: data/vfio-sla.db under the
                          current directory; created if missing)
  --no-db                 no database: decide, model and health only
  --model <file>          model to serve (e.g. models/lab.json)
  --priors <file>         priors for fits and for starting without data (default: models/priors.json)
  --group <name|gid>      give the socket to this group, mode 0660
  --alpha <a>             miss probability when a decide's slo has no alpha (default 0.01)
  --max-connections <n>   more get E_TOO_MANY_CONNECTIONS (default ${DEFAULT_MAX_CONNECTIONS}); one uid may
                          hold 3/4 of them, one process 1/2 (told apart by SO_PEERCRED through a
                          small C module built with cc on first use; without one, health's
                          peerShares says they are off and why)
  --abort-without-model   answer abort, not defer, when the bound is not calibrated
  -h, --help              this help

Exit status: 0 stopped by SIGTERM/SIGINT with everything committed; 1 could not start, or
records left uncommitted (kept in the spill file); 2 usage error.

Example:
  vfio-sla serve --socket /run/vfio-sla.sock --model models/lab.json --group kvm &
  echo '{"id":1,"method":"health"}' | socat - UNIX-CONNECT:/run/vfio-sla.sock`;

interface ServeArgs {
  readonly socket: string;
  readonly db: string | null;
  readonly model: string | undefined;
  readonly priors: string | undefined;
  readonly group: string | undefined;
  readonly alpha: number;
  readonly maxConnections: number;
  readonly abortWithoutModel: boolean;
}

function parse(argv: readonly string[], io: CliIo): ServeArgs {
  const parsed = parseCommandArgs(argv, {
      socket: { type: 'string' },
      db: { type: 'string' },
      'no-db': { type: 'boolean', default: false },
      model: { type: 'string' },
      priors: { type: 'string' },
      group: { type: 'string' },
      alpha: { type: 'string' },
      'max-connections': { type: 'string' },
      'abort-without-model': { type: 'boolean', default: false },
    });
  const v = parsed.values;
  if (v.socket === undefined) throw new UsageError('--socket <path> is required');
  const socket = resolve(io.cwd, v.socket);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
    throw new UsageError(`--socket: '${socket}' is ${Buffer.byteLength(socket)} bytes; a unix socket path is at most ${MAX_SOCKET_PATH_BYTES} bytes`);
  }
  if (v.db !== undefined && v['no-db']) throw new UsageError('--db and --no-db exclude each other');
  const alpha = v.alpha === undefined ? 0.01 : Number(v.alpha);
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha must be in (0, 1), got '${v.alpha ?? ''}'`);
  const maxConnections = v['max-connections'] === undefined ? DEFAULT_MAX_CONNECTIONS : Number(v['max-connections']);
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new UsageError(`--max-connections must be an integer ≥ 1, got '${v['max-connections'] ?? ''}'`);
  const model = v.model === undefined ? undefined : resolve(io.cwd, v.model);
  if (model !== undefined && !existsSync(model)) throw new UsageError(`--model: no file at '${v.model ?? ''}'`);
  return {
    socket,
    db: v['no-db'] ? null : dbOption(v.db, io.cwd, 'would lose every record when the service stops, and fit runs in a worker that cannot see it; --no-db serves without a store'),
    model,
    priors: v.priors === undefined ? undefined : resolve(io.cwd, v.priors),
    group: v.group,
    alpha,
    maxConnections,
    abortWithoutModel: v['abort-without-model'],
  };
}

/** The first SIGTERM or SIGINT; after it, a second one kills the process as usual. */
function stopSignals(): { readonly stopped: Promise<string>; dispose(): void } {
  let on: (signal: NodeJS.Signals) => void = () => undefined;
  const dispose = (): void => {
    process.off('SIGTERM', on);
    process.off('SIGINT', on);
  };
  const stopped = new Promise<string>((resolveSignal) => {
    on = (signal) => {
      dispose();
      resolveSignal(signal);
    };
  });
  process.on('SIGTERM', on);
  process.on('SIGINT', on);
  return { stopped, dispose };
}

/** Serves until `stop` resolves (default: SIGTERM or SIGINT), then drains. */
export async function serve(argv: readonly string[], io: CliIo, stop?: Promise<string>): Promise<number> {
  const args = parse(argv, io);
  const signals = stop === undefined ? stopSignals() : { stopped: stop, dispose: () => undefined };
  try {
    const end = await serveUntil({ ...args, stop: signals.stopped, log: (line) => void io.stderr.write(`vfio-sla serve: ${line}\n`) });
    return end === 'drain-failed' ? 1 : 0;
  } finally {
    signals.dispose();
  }
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'answer decide/record/fit/model/health requests from VMMs on a unix socket',
  help: HELP,
  run: (argv, io) => serve(argv, io),
};
