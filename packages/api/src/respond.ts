import type { ServerResponse } from 'node:http';
import { isBerthError, statusOf } from '@berth/core';

/**
 * Headers dockerd puts on every response (clients read `Api-Version` to negotiate and
 * `Ostype` to pick path rules), computed once per server.
 */
export type ApiHeaders = ReadonlyArray<readonly [string, string]>;

export function apiHeaders(apiVersion: string, serverVersion: string): ApiHeaders {
  return [
    ['Api-Version', apiVersion],
    ['Docker-Experimental', 'false'],
    ['Ostype', 'linux'],
    ['Server', `berth/${serverVersion} (linux)`],
  ];
}

/** The same headers as raw HTTP lines, for responses written straight to a hijacked socket. */
export function apiHeaderLines(headers: ApiHeaders): string {
  let s = '';
  for (const [k, v] of headers) s += `${k}: ${v}\r\n`;
  return s;
}

/** Sends a JSON body with a length (small answers; streams use `json-lines.ts`). */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = `${JSON.stringify(value)}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Sends a status with no body (204, 201 of tag, ...). */
export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Length': 0 });
  res.end();
}

/** Longest message a client is sent for an error; the daemon's log has the whole of it. */
const maxMessageLength = 2048;

/**
 * The message an error carries to the client: its message alone, on one line, never a
 * stack (a thrown string or an odd error type could carry one in its text).
 */
export function errorMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const firstLine = text
    .split(/\r?\n\s+at /, 1)[0]!
    .replace(/[\r\n]+/g, ' ')
    .trim();
  return firstLine.length > maxMessageLength ? `${firstLine.slice(0, maxMessageLength)}…` : firstLine;
}

/** The body dockerd sends for an error: `{"message":"..."}` and a newline. */
export function errorBody(err: unknown): string {
  return `${JSON.stringify({ message: errorMessage(err) })}\n`;
}

/**
 * Answers an error thrown before the response started: its BerthError status (304 has
 * no body by HTTP's rules), anything else 500 with its message.
 */
export function sendError(res: ServerResponse, err: unknown): void {
  const status = statusOf(err);
  if (status === 304) {
    res.writeHead(304);
    res.end();
    return;
  }
  const body = errorBody(err);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** True when the error is an expected outcome (a BerthError below 500) rather than a fault worth a log line. */
export function isClientError(err: unknown): boolean {
  return isBerthError(err) && err.status < 500;
}

const reasons: Record<number, string> = {
  200: 'OK',
  304: 'Not Modified',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/** A whole HTTP response as bytes, for a socket that left Node's HTTP machinery (the upgrade path). */
export function rawResponse(status: number, headers: ApiHeaders, contentType: string, body: string): string {
  const reason = reasons[status] ?? 'Error';
  return (
    `HTTP/1.1 ${status} ${reason}\r\n` +
    apiHeaderLines(headers) +
    `Content-Type: ${contentType}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `Connection: close\r\n\r\n` +
    body
  );
}
