import type { IncomingMessage } from 'node:http';
import { Forbidden, NotFound, SystemError, Unauthorized } from '@berth/core';
import { readBody } from './http-request.js';

/** The error body of the distribution API: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`. */
interface RegistryErrorBody {
  errors?: Array<{ code?: string; message?: string; detail?: unknown }>;
}

/**
 * The message a registry's error body gives, as Docker prints it: `<code in words>:
 * <message>` per error (`manifest unknown: manifest unknown`, `denied: requested access
 * to the resource is denied`), or the status line when the body says nothing.
 */
export function registryErrorMessage(status: number, statusMessage: string | undefined, body: Buffer): string {
  let parsed: RegistryErrorBody | undefined;
  try {
    parsed = JSON.parse(body.toString('utf8')) as RegistryErrorBody;
  } catch {
    parsed = undefined;
  }
  const errors = (parsed?.errors ?? []).filter((e) => typeof e?.code === 'string' || typeof e?.message === 'string');
  if (errors.length) {
    return errors.map((e) => `${(e.code ?? 'unknown').toLowerCase().replace(/_/g, ' ')}: ${e.message ?? ''}`.trim()).join('; ');
  }
  // A HEAD answer has no body: say what the status means, in the registry's own words.
  if (status === 401) return 'unauthorized: authentication required';
  if (status === 403) return 'denied: requested access to the resource is denied';
  return `unexpected status from the registry: ${status} ${statusMessage ?? ''}`.trim();
}

/**
 * The berth error for a registry's error answer: 401 Unauthorized, 403 Forbidden, 404
 * NotFound, anything else SystemError; the message is the registry's, after `context`
 * when given (`manifest for x:1 not found: manifest unknown: manifest unknown`).
 */
export async function registryError(res: IncomingMessage, context?: string): Promise<Error> {
  const body = await readBody(res, 1 << 20).catch(() => Buffer.alloc(0));
  const status = res.statusCode ?? 0;
  const message = registryErrorMessage(status, res.statusMessage, body);
  const full = context ? `${context}: ${message}` : message;
  if (status === 401) return new Unauthorized(full);
  if (status === 403) return new Forbidden(full);
  if (status === 404) return new NotFound(full);
  return new SystemError(full);
}
