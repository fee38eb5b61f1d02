/**
 * The error codes of the OCI Distribution spec, each with the HTTP status the spec (and
 * the reference registry, where the spec leaves it open) answers with. A handler throws a
 * `DistributionError`; the server turns it into `{"errors":[{code, message, detail}]}`.
 */
export const distributionErrorStatus = Object.freeze({
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  RANGE_INVALID: 416,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  // Not in the spec's table, but the reference registry's, which clients know:
  PAGINATION_NUMBER_INVALID: 400,
  UNKNOWN: 500,
});

export type DistributionErrorCode = keyof typeof distributionErrorStatus;

/** A protocol error of the registry API: its spec code, a message for people, and optional structured detail. */
export class DistributionError extends Error {
  readonly status: number;
  /** Headers the response carries besides the body (a challenge, the Range of an upload). */
  readonly headers: Record<string, string | number>;
  constructor(
    readonly code: DistributionErrorCode,
    message: string,
    readonly detail?: unknown,
    options: { status?: number; headers?: Record<string, string | number> } = {},
  ) {
    super(message);
    this.name = 'DistributionError';
    this.status = options.status ?? distributionErrorStatus[code];
    this.headers = options.headers ?? {};
  }

  /** The response body the spec prescribes. */
  body(): { errors: Array<{ code: string; message: string; detail?: unknown }> } {
    const entry: { code: string; message: string; detail?: unknown } = { code: this.code, message: this.message };
    if (this.detail !== undefined) entry.detail = this.detail;
    return { errors: [entry] };
  }
}
