/**
 * Typed failures of the QMP client. Each carries a stable `code` and the command (with its QMP
 * `id`) or socket it concerns, so a log line says what failed and where.
 * Protocol reference: QEMU `docs/interop/qmp-spec.rst`.
 */

/** Stable codes of {@link QmpError}s. */
export type QmpErrorCode =
  | 'E_QMP_COMMAND'
  | 'ETIMEDOUT'
  | 'ECONNRESET'
  | 'ECONNREFUSED'
  | 'EPROTO'
  | 'ENOTSUP';

/** Base class: `instanceof QmpError` catches every failure of the client. */
export abstract class QmpError extends Error {
  abstract readonly code: QmpErrorCode;
}

/**
 * QEMU answered a command with `{"error": {"class", "desc"}}` (qmp-spec.rst, "Error Response").
 * `errorClass` is QEMU's `QapiErrorClass` (`GenericError`, `CommandNotFound`, `DeviceNotActive`,
 * `DeviceNotFound`, `KVMMissingCap`); `desc` is human-readable and must not be parsed.
 */
export class QmpCommandError extends QmpError {
  readonly code = 'E_QMP_COMMAND' as const;
  constructor(
    readonly command: string,
    readonly id: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`${command} (id ${id}): ${errorClass}: ${desc}`);
    this.name = 'QmpCommandError';
  }
}

/** No reply within the command's timeout. QEMU may still run the command; a late reply is dropped. */
export class QmpTimeoutError extends QmpError {
  readonly code = 'ETIMEDOUT' as const;
  constructor(
    readonly command: string,
    readonly id: string,
    readonly timeoutMs: number,
  ) {
    super(`${command} (id ${id}): no reply within ${timeoutMs} ms`);
    this.name = 'QmpTimeoutError';
  }
}

/**
 * The connection closed (or was never up) while the command was in flight or queued. Whether
 * QEMU ran the command is unknown.
 */
export class QmpClosedError extends QmpError {
  readonly code = 'ECONNRESET' as const;
  constructor(
    readonly command: string,
    readonly id: string,
    readonly endpoint: string,
    why: string,
    options?: ErrorOptions,
  ) {
    super(`${command} (id ${id}): QMP connection to ${endpoint} ${why}`, options);
    this.name = 'QmpClosedError';
  }
}

/** Could not open the socket, or the greeting / capabilities negotiation failed. */
export class QmpConnectError extends QmpError {
  readonly code = 'ECONNREFUSED' as const;
  constructor(
    readonly endpoint: string,
    readonly attempts: number,
    why: string,
    options?: ErrorOptions,
  ) {
    super(`QMP ${endpoint}: ${why} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`, options);
    this.name = 'QmpConnectError';
  }
}

/** The peer broke the protocol: a line that is not a JSON object, a reply to no command. */
export class QmpProtocolError extends QmpError {
  readonly code = 'EPROTO' as const;
  constructor(
    readonly endpoint: string,
    why: string,
    readonly line?: string,
  ) {
    super(`QMP ${endpoint}: ${why}${line === undefined ? '' : `: ${truncate(line)}`}`);
    this.name = 'QmpProtocolError';
  }
}

/** This QEMU does not have the command (absent from `query-commands`), e.g. an older version. */
export class QmpUnsupportedError extends QmpError {
  readonly code = 'ENOTSUP' as const;
  constructor(
    readonly command: string,
    readonly qemuVersion: string,
  ) {
    super(`${command}: not supported by QEMU ${qemuVersion} (absent from query-commands)`);
    this.name = 'QmpUnsupportedError';
  }
}

function truncate(line: string): string {
  return line.length <= 200 ? line : `${line.slice(0, 200)}…`;
}
