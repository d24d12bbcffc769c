/**
 * Errors of the local service. Every one has a stable `code`: request errors travel to the
 * client as `{"id", "error": {"code", "message", "field"?}}` and the connection stays usable;
 * start-up errors (`E_SOCKET_*`, `E_BAD_GROUP`) are thrown by `startServer()`.
 */

/** Stable codes of {@link ServiceError}: VMMs compare them, keep them stable. */
export type ServiceErrorCode =
  /** A request line over the limit (1 MiB); the rest of the line up to its newline is discarded. */
  | 'E_TOO_LARGE'
  /** The line is not JSON. */
  | 'E_BAD_JSON'
  /** The line is JSON but not a request object: `id` not a scalar, `method` not a string, `params` not an object. */
  | 'E_BAD_REQUEST'
  /** `method` is not one of `decide`, `record`, `fit`, `model`, `health`. */
  | 'E_UNKNOWN_METHOD'
  /** A field of `params` is missing or wrong; `field` names it (`snapshot.devices[0].state`). */
  | 'E_BAD_PARAMS'
  /** The governor refused the SLO (deadline ≤ 0, α ∉ (0, 1), negative budget). */
  | 'E_BAD_SLO'
  /** The governor refused the snapshot (negative or non-finite RAM figures). */
  | 'E_BAD_SNAPSHOT'
  /** `record` or `fit` on a server started without a database. */
  | 'E_NO_STORE'
  /** `fit` failed (unreadable store, no usable data, worker crash); the previous model stays. */
  | 'E_FIT_FAILED'
  /** The server already serves its maximum of connections; this one is closed after the reply. */
  | 'E_TOO_MANY_CONNECTIONS'
  /** The connection sent nothing for the idle timeout, or was the longest idle when the server was full; it is closed. */
  | 'E_IDLE'
  /** A request line was not completed within the line timeout (a client trickling bytes); the connection is closed. */
  | 'E_TIMEOUT'
  /** The server is draining after SIGTERM/SIGINT. */
  | 'E_SHUTTING_DOWN'
  /** A bug: the message says what threw. The connection stays usable. */
  | 'E_INTERNAL'
  /** Start-up: a live server answers on the socket path. */
  | 'E_SOCKET_IN_USE'
  /** Start-up: the socket path exists and is not a socket, or cannot be bound. */
  | 'E_SOCKET_PATH'
  /** Start-up: `--group` names no group of this host. */
  | 'E_BAD_GROUP';

/** One error of the service, with the request field it is about when there is one. */
export class ServiceError extends Error {
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    /** The request field at fault, as a path: `params.snapshot.devices[0].state`. */
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ServiceError';
  }
}
