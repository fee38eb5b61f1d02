import { BerthError } from '@berth/core';

/**
 * A request body bigger than the server accepts (413). A client error with
 * `InvalidArgument`'s code, so `isBerthError` and the logs treat it alike; only the
 * status differs. The server closes the connection after answering, since the rest of
 * the body is not worth reading.
 */
export class PayloadTooLarge extends BerthError {
  override readonly code = 'InvalidArgument';
  override readonly status = 413;
}

/** A request body that stopped arriving (408); answered, then the connection is closed. */
export class RequestTimeout extends BerthError {
  override readonly code = 'InvalidArgument';
  override readonly status = 408;
}
