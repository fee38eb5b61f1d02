/** A query parameter as the client passes it; `undefined`, `null` and `false` are left out. */
export type QueryValue = string | number | boolean | string[] | undefined | null;

/**
 * Encodes query parameters the way the docker CLI does: `true` is `1`, `false` and unset
 * values are omitted, arrays repeat the key (`names=a&names=b`).
 */
export function encodeQuery(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  // encodeURIComponent rather than URLSearchParams: the latter's first use costs ~2 ms of start-up.
  const parts: string[] = [];
  const add = (key: string, value: string): void => void parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === false) continue;
    if (value === true) add(key, '1');
    else if (Array.isArray(value)) for (const v of value) add(key, v);
    else add(key, String(value));
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/**
 * Filters in the CLI's encoding, `{"name":{"web":true}}`, which every daemon accepts.
 * Undefined when there are none, so the parameter is left out.
 */
export function encodeFilters(filters: Record<string, string[]> | undefined): string | undefined {
  if (!filters) return undefined;
  const out: Record<string, Record<string, true>> = {};
  let any = false;
  for (const [key, values] of Object.entries(filters)) {
    if (!values.length) continue;
    out[key] ??= {};
    const set: Record<string, true> = out[key];
    for (const v of values) set[v] = true;
    any = true;
  }
  return any ? JSON.stringify(out) : undefined;
}

/**
 * An image reference in a URL path. Like the docker client it keeps `/`, `:` and `@`
 * as they are (`/images/127.0.0.1:5010/trc/busybox:v1/json`) and escapes the rest.
 */
export function imagePath(ref: string): string {
  return encodeURIComponent(ref).replace(/%2F/gi, '/').replace(/%3A/gi, ':').replace(/%40/gi, '@');
}

/** A container id or name in a URL path. */
export function containerPath(ref: string): string {
  return encodeURIComponent(ref);
}
