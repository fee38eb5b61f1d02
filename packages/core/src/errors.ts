/**
 * Errors that cross package boundaries. Each carries the HTTP status the Docker
 * Engine API answers with, so the API layer maps them without knowing their origin.
 * Messages name the object and the problem: `no such container: web`.
 *
 * A plugin loaded from its own node_modules has its own copy of this module, so its
 * `NotFound` is not an `instanceof` the engine's `NotFound`. Every error therefore
 * carries a `code` and a brand under `Symbol.for('berth.error')` (a registered symbol:
 * every copy of core sees the same one), and the engine recognises errors with
 * `isBerthError(err, code)`, never with `instanceof`.
 */

/** What kind of contract error it is; each code has one API status. */
export type BerthErrorCode =
  | 'NotModified'
  | 'InvalidArgument'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'Conflict'
  | 'NotImplemented'
  | 'SystemError';

/** The Docker Engine API status of each code. */
export const berthErrorStatus: Readonly<Record<BerthErrorCode, number>> = Object.freeze({
  NotModified: 304,
  InvalidArgument: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  NotImplemented: 501,
  SystemError: 500,
});

/**
 * The brand's key. Its value is the version of the shape a branded error promises
 * (`code`, `status`, `message`), so a later copy of core that changes the shape can
 * tell an older error apart instead of misreading it.
 */
const brand = Symbol.for('berth.error');
const brandVersion = 1;

export class BerthError extends Error {
  /** What kind of error it is; `isBerthError(err, code)` checks it across copies of core. */
  readonly code: BerthErrorCode = 'SystemError';
  /** HTTP status of the Docker Engine API for this error. */
  readonly status: number = 500;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
// On the prototype, so every subclass and every instance carries it without an own
// property that would show in JSON or in a console dump.
Object.defineProperty(BerthError.prototype, brand, { value: brandVersion });

/** Nothing to do: the object is already in the requested state, e.g. starting a running container (304). */
export class NotModified extends BerthError {
  override readonly code = 'NotModified';
  override readonly status = 304;
}

/** The named object does not exist (404). */
export class NotFound extends BerthError {
  override readonly code = 'NotFound';
  override readonly status = 404;
}

/** The request conflicts with the object's current state, e.g. a name in use (409). */
export class Conflict extends BerthError {
  override readonly code = 'Conflict';
  override readonly status = 409;
}

/** The request itself is wrong: a malformed body, a bad reference, a bad flag value (400). */
export class InvalidArgument extends BerthError {
  override readonly code = 'InvalidArgument';
  override readonly status = 400;
}

/** Credentials are missing or wrong, e.g. a registry refused a login or a pull (401). */
export class Unauthorized extends BerthError {
  override readonly code = 'Unauthorized';
  override readonly status = 401;
}

/** The operation is refused on this object, e.g. a predefined network (403). */
export class Forbidden extends BerthError {
  override readonly code = 'Forbidden';
  override readonly status = 403;
}

/** The daemon cannot do this on this host or with this configuration (501). */
export class NotImplemented extends BerthError {
  override readonly code = 'NotImplemented';
  override readonly status = 501;
}

/** Something failed inside the engine or the kernel (500). */
export class SystemError extends BerthError {
  override readonly code = 'SystemError';
  override readonly status = 500;
}

/**
 * True when `err` is a berth error of any copy of `@berth/core` (it carries the brand
 * and a known code), and, when `code` is given, of that code. The one way the engine,
 * the API and the plugins recognise an error: `if (!isBerthError(err, 'NotFound')) throw err`.
 */
export function isBerthError(err: unknown, code?: BerthErrorCode): err is BerthError {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { [brand]?: unknown; code?: unknown; status?: unknown };
  if (e[brand] !== brandVersion || typeof e.code !== 'string' || !Object.hasOwn(berthErrorStatus, e.code)) return false;
  return code === undefined || e.code === code;
}

/**
 * The HTTP status for any thrown value: a berth error's own (of any copy of core; a
 * status that is not a number falls back to its code's), otherwise 500.
 */
export function statusOf(err: unknown): number {
  if (!isBerthError(err)) return 500;
  return typeof err.status === 'number' ? err.status : berthErrorStatus[err.code];
}
