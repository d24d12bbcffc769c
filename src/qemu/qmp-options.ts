/**
 * Options and states of a QMP connection (`qmp-connection.ts`).
 */

/** Where the monitor listens: QEMU `-qmp unix:PATH,server=on,wait=off` or `-qmp tcp:HOST:PORT,...`. */
export type QmpEndpoint = { readonly path: string } | { readonly host: string; readonly port: number };

/** Retry policy: delay `initialDelayMs × 2^(n−1)` capped at `maxDelayMs`, at most `maxAttempts` tries. */
export interface QmpBackoff {
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export interface QmpConnectionOptions {
  readonly endpoint: QmpEndpoint;
  /** Default per-command reply timeout, ms (30 000). A queued command's clock starts when issued. */
  readonly commandTimeoutMs?: number;
  /** Per attempt: socket open + greeting + `qmp_capabilities` reply, ms (10 000). */
  readonly connectTimeoutMs?: number;
  /** Enable out-of-band execution (`exec-oob`) when the greeting offers `oob` (QEMU 2.12+). */
  readonly oob?: boolean;
  /** Attempts for `connect()` and `reconnect()` (default: one attempt). */
  readonly connectRetry?: QmpBackoff;
  /** Reconnect by itself after an unexpected close; commands issued meanwhile wait (default off). */
  readonly autoReconnect?: QmpBackoff;
  /** Wall clock, epoch ms, for `receivedAtMs` and wire lines (default: high-resolution `Date`). */
  readonly nowEpochMs?: () => number;
}

/** `connecting` → `ready` → `disconnected` (→ `connecting` again) … → `closed` (by `close()`, final). */
export type QmpConnectionState = 'connecting' | 'ready' | 'disconnected' | 'closed';

/** Per-call options of {@link QmpConnection.execute}. */
export interface QmpExecuteOptions {
  readonly timeoutMs?: number;
  /** Send as `exec-oob` (only commands QEMU allows out of band, e.g. `migrate-pause`). */
  readonly oob?: boolean;
}
