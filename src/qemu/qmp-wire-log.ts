/**
 * The QMP wire log, form 1 of `shared/specs/design.md` ("QMP logs"): JSON lines as QEMU sent
 * them — the greeting, every event (with QEMU's own `timestamp`), and the replies to the
 * migration queries, each reply with a top-level `"ts"`, the host receive time in epoch seconds.
 * Replies to other commands (`query-status` also has a `status` member) and the client's own
 * commands stay out, so a reader (`qmp-log.ts`, `vfio-sla import`) can take every `return`
 * object with a `status` as a `query-migrate` poll.
 */
import { filter, map, type Observable } from 'rxjs';
import type { QmpWireLine } from './qmp-protocol.js';

/** Commands whose replies the log keeps by default. */
export const QMP_LOG_REPLY_COMMANDS: ReadonlySet<string> = new Set(['query-migrate', 'query-migrate-parameters']);

/**
 * The log line for one wire line, or `undefined` for lines the log leaves out.
 * @param replyCommands commands whose replies are kept (default {@link QMP_LOG_REPLY_COMMANDS}).
 */
export function toQmpLogLine(w: QmpWireLine, replyCommands: ReadonlySet<string> = QMP_LOG_REPLY_COMMANDS): string | undefined {
  if (w.direction !== 'in') return undefined;
  switch (w.kind) {
    case 'greeting':
    case 'event':
      return w.line;
    case 'return':
    case 'error': {
      if (w.command === undefined || !replyCommands.has(w.command)) return undefined;
      // A reply is a JSON object with at least one member, so `,` after its last member is valid.
      const close = w.line.lastIndexOf('}');
      return `${w.line.slice(0, close)}, "ts": ${w.atMs / 1000}}`;
    }
    default:
      return undefined;
  }
}

/**
 * Turns a client's `wire$` into log lines (no terminator), e.g.
 * `qmpLogLines(qmp.wire$).subscribe((l) => out.write(l + '\n'))`.
 */
export function qmpLogLines(
  wire$: Observable<QmpWireLine>,
  replyCommands: ReadonlySet<string> = QMP_LOG_REPLY_COMMANDS,
): Observable<string> {
  return wire$.pipe(
    map((w) => toQmpLogLine(w, replyCommands)),
    filter((l): l is string => l !== undefined),
  );
}
