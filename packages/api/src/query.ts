import { type Filters, InvalidArgument } from '@berth/core';

/**
 * Query-string dialects of real clients: the CLI sends `1` and omits
 * false flags, docker-py sends `True`/`False`/`0`, CLI 20.10 sends `null`, `[]`, `{}` and
 * empty strings for parameters it does not mean to set. All of these parse here.
 */

/** True for a value that means "not set": absent, empty, `null`, `[]`, `{}`. */
export function isUnset(value: string | null | undefined): value is null | undefined | '' {
  return value === null || value === undefined || value === '' || value === 'null' || value === '[]' || value === '{}';
}

/** A boolean flag: false when unset or `0`/`false`/`no`/`none` (any case), true for anything else, as dockerd reads them. */
export function boolParam(query: URLSearchParams, key: string): boolean {
  const raw = query.get(key);
  if (isUnset(raw)) return false;
  const v = raw.trim().toLowerCase();
  return !(v === '' || v === '0' || v === 'false' || v === 'no' || v === 'none');
}

/** Like `boolParam`, but `undefined` when the client did not send the key, for flags whose default is true. */
export function optionalBoolParam(query: URLSearchParams, key: string): boolean | undefined {
  return isUnset(query.get(key)) ? undefined : boolParam(query, key);
}

/** A string parameter, `undefined` when unset. */
export function stringParam(query: URLSearchParams, key: string): string | undefined {
  const raw = query.get(key);
  return isUnset(raw) ? undefined : raw;
}

/** An integer parameter; a value that is not an integer is the client's mistake (400). */
export function intParam(query: URLSearchParams, key: string): number | undefined {
  const raw = query.get(key);
  if (isUnset(raw)) return undefined;
  const n = Number(raw.trim());
  if (!Number.isInteger(n)) throw new InvalidArgument(`invalid value for ${key}: "${raw}" is not an integer`);
  return n;
}

/**
 * A time parameter (`since`, `until`) as unix seconds with fractions. The CLI sends
 * `1795378306` or `1795378306.123456789`; RFC 3339 is accepted too.
 */
export function timeParam(query: URLSearchParams, key: string): number | undefined {
  const raw = query.get(key);
  if (isUnset(raw)) return undefined;
  const s = raw.trim();
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) throw new InvalidArgument(`invalid value for ${key}: "${raw}" is not a unix timestamp or RFC 3339 time`);
  return ms / 1000;
}

/**
 * The `filters` parameter in both encodings: the CLI's `{"name":{"web":true}}` and
 * docker-py's `{"label":["a=b"]}`. Like dockerd, every key of the map form counts
 * whatever its boolean. Malformed JSON is a 400 that names the problem.
 */
export function filtersParam(query: URLSearchParams, key = 'filters'): Filters | undefined {
  const raw = query.get(key);
  if (isUnset(raw)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new InvalidArgument(`invalid filters: ${(err as Error).message}`);
  }
  if (parsed === null) return undefined;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidArgument(`invalid filters: expected a JSON object, got ${raw}`);
  }
  const filters: Filters = {};
  let any = false;
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    let values: string[];
    if (Array.isArray(value)) {
      values = value.map((v) => {
        if (typeof v !== 'string') throw new InvalidArgument(`invalid filters: values of "${name}" must be strings`);
        return v;
      });
    } else if (value !== null && typeof value === 'object') {
      values = Object.keys(value);
    } else {
      throw new InvalidArgument(`invalid filters: "${name}" must map to a list or an object of values`);
    }
    filters[name] = values;
    any = true;
  }
  return any ? filters : undefined;
}
