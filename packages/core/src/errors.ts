/**
 * Errors that cross package boundaries. Each carries the HTTP status the Docker
 * Engine API answers with, so the API layer maps them without knowing their origin.
 * Messages name the object and the problem: `no such container: web`.
 */
export class BerthError extends Error {
  /** HTTP status of the Docker Engine API for this error. */
  readonly status: number = 500;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Nothing to do: the object is already in the requested state, e.g. starting a running container (304). */
export class NotModified extends BerthError {
  override readonly status = 304;
}

/** The named object does not exist (404). */
export class NotFound extends BerthError {
  override readonly status = 404;
}

/** The request conflicts with the object's current state, e.g. a name in use (409). */
export class Conflict extends BerthError {
  override readonly status = 409;
}

/** The request itself is wrong: a malformed body, a bad reference, a bad flag value (400). */
export class InvalidArgument extends BerthError {
  override readonly status = 400;
}

/** The operation is refused on this object, e.g. a predefined network (403). */
export class Forbidden extends BerthError {
  override readonly status = 403;
}

/** The daemon cannot do this on this host or with this configuration (501). */
export class NotImplemented extends BerthError {
  override readonly status = 501;
}

/** Something failed inside the engine or the kernel (500). */
export class SystemError extends BerthError {
  override readonly status = 500;
}

/** The HTTP status for any thrown value: a BerthError's own, otherwise 500. */
export function statusOf(err: unknown): number {
  return err instanceof BerthError ? err.status : 500;
}
