import { hostUrl } from './host.js';

/**
 * The daemon answered with an error: its HTTP status and its `{"message"}`. Errors that
 * arrive inside a 200 JSON-lines stream (`{"errorDetail":…}`, a failed import or load)
 * are ApiErrors too, with status 500 and, when the daemon sent one, its `code`.
 */
export class ApiError extends Error {
  constructor(
    /** HTTP status (404 no such object, 409 conflict, 400 bad request, 500 daemon failure). */
    readonly status: number,
    message: string,
    /** The request that failed, e.g. `POST /containers/create`. */
    readonly request: string = '',
    /** `errorDetail.code` of an in-band stream error (a build step's exit code), if any. */
    readonly code?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * The daemon could not be reached (no socket, refused, permission denied) or the
 * connection broke before an answer. `code` is the system error code (`ENOENT`, ...).
 */
export class ConnectionError extends Error {
  constructor(
    message: string,
    readonly socketPath: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ConnectionError';
  }
}

/** Turns a socket error into the message a user can act on. */
export function connectionError(err: NodeJS.ErrnoException, socketPath: string): ConnectionError {
  const url = hostUrl(socketPath);
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
    case 'ENOTDIR':
      return new ConnectionError(`Cannot connect to the berth daemon at ${url}. Is berthd running?`, socketPath, err.code, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new ConnectionError(
        `permission denied while trying to connect to the berth daemon socket at ${url}: ${err.message}`,
        socketPath,
        err.code,
        { cause: err },
      );
    default:
      return new ConnectionError(`cannot talk to the berth daemon at ${url}: ${err.message}`, socketPath, err.code, { cause: err });
  }
}
