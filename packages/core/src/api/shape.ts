import { InvalidArgument } from '../errors.js';

/**
 * berth's own checker of request bodies against Docker's types (the README says why not
 * a library). A `Shape` is one of Docker's Go types seen from JSON: it checks a value and
 * returns it as Go's decoder would have kept it, or throws InvalidArgument naming the
 * field the way a user reads it (`invalid HostConfig.Binds: expected an array of strings,
 * got 5`). What Go's `encoding/json` does, and so dockerd, is the rule:
 *
 * - an unknown field is ignored: objects come back with their declared fields only, so
 *   nothing Docker would drop is stored;
 * - `null` for a field is the same as its absence (Go leaves the zero value, or nil):
 *   the field is left out of the result, so the engine never sees `null` in a field;
 * - a value of the wrong type is an error (Go: `cannot unmarshal number into ... of type
 *   string`), reported at the field, or at its collection for an array or map of plain values.
 *
 * Shapes are plain objects and functions: nothing is compiled, so they cost nothing at
 * start-up, and a check is one walk over the value.
 */
export interface Shape<T = unknown> {
  /** What a value must be, as the message says it: `a string`, `an array of strings`. */
  readonly expected: string;
  /** The value as Docker keeps it; throws InvalidArgument naming `path` when it does not fit. */
  parse(value: unknown, path: string): T;
}

/** The value in a message: short JSON, cut at 60 characters (the body could be anything). */
function shown(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The error every shape throws: the field, what it must be, and what it was. */
export function mismatch(path: string, expected: string, value: unknown): InvalidArgument {
  return new InvalidArgument(`invalid ${path}: expected ${expected}, got ${shown(value)}`);
}

function primitive<T>(expected: string, test: (v: unknown) => boolean): Shape<T> {
  return {
    expected,
    parse(value, path) {
      if (!test(value)) throw mismatch(path, expected, value);
      return value as T;
    },
  };
}

const isString = (v: unknown): v is string => typeof v === 'string';

/** Go's `string`. */
export const string: Shape<string> = primitive('a string', isString);

/** Go's `bool`. */
export const boolean: Shape<boolean> = primitive('a boolean', (v) => typeof v === 'boolean');

/**
 * Go's integer types. JSON numbers with a fraction are refused as Go refuses them; the
 * range is JavaScript's safe integers, which holds every byte count a host can have.
 */
export const integer: Shape<number> = primitive('an integer', (v) => typeof v === 'number' && Number.isSafeInteger(v));

/** Go's `[]string`: checked element by element, reported at the array (`Cmd`, not `Cmd[1]`). */
export const stringArray: Shape<string[]> = primitive('an array of strings', (v) => Array.isArray(v) && v.every(isString));

/** Go's `map[string]string` (Labels, Sysctls, StorageOpt...): reported at the map. */
export const stringMap: Shape<Record<string, string>> = primitive(
  'a map of strings',
  (v) => isPlainObject(v) && Object.values(v).every(isString),
);

/**
 * Docker's `strslice.StrSlice` (Cmd, Entrypoint): a string or an array of strings. Kept
 * as sent; the engine's command merging reads both forms.
 */
export const stringOrStringArray: Shape<string | string[]> = primitive(
  'a string or an array of strings',
  (v) => isString(v) || (Array.isArray(v) && v.every(isString)),
);

/**
 * Go's `map[string]struct{}` (ExposedPorts, Volumes): the keys are the data; each value
 * must be an object (or null) and is kept as `{}`, whatever it held.
 */
export const keySet: Shape<Record<string, object>> = {
  expected: 'a map of empty objects',
  parse(value, path) {
    if (!isPlainObject(value) || !Object.values(value).every((v) => v === null || isPlainObject(v))) {
      throw mismatch(path, this.expected, value);
    }
    const out: Record<string, object> = {};
    for (const key of Object.keys(value)) out[key] = {};
    return out;
  },
};

/** A JSON object that is not an array. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Appends a key to a path the way users write it: `HostConfig.Binds`, `PortBindings["80/tcp"]`. */
export function childPath(path: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

/** The fields of a Go struct, one shape each; `Required` makes the compiler check every declared field has one. */
export type Fields<T> = { [K in keyof Required<T>]: Shape<unknown> };

/**
 * A Go struct: each declared field is checked; `null` and absent fields are left out;
 * unknown fields are dropped, as Go's decoder drops them.
 */
export function object<T>(fields: Fields<T>, expected = 'an object'): Shape<T> {
  const entries = Object.entries(fields) as Array<[string, Shape<unknown>]>;
  return {
    expected,
    parse(value, path) {
      if (!isPlainObject(value)) throw mismatch(path || 'body', expected, value);
      const out: Record<string, unknown> = {};
      for (const [key, shape] of entries) {
        const v = value[key];
        if (v === undefined || v === null) continue;
        out[key] = shape.parse(v, childPath(path, key));
      }
      return out as T;
    },
  };
}

/** `an object` → `objects`, for the messages of collections. */
function plural(expected: string): string {
  return `${expected.replace(/^an? /, '')}s`;
}

/** Go's `[]T` for a struct or slice `T`: elements are checked one by one and named by index. */
export function arrayOf<T>(element: Shape<T>, expected = `an array of ${plural(element.expected)}`): Shape<T[]> {
  return {
    expected,
    parse(value, path) {
      if (!Array.isArray(value)) throw mismatch(path, expected, value);
      return value.map((v, i) => element.parse(v, `${path}[${i}]`));
    },
  };
}

/**
 * Go's `map[string]T` for a struct or slice `T`, values named by key. `nullValues`: a null
 * value is kept (Go's nil slice or pointer), as in `PortBindings: {"80/tcp": null}`.
 */
export function mapOf<T>(value: Shape<T>, opts: { nullValues?: boolean; expected?: string } = {}): Shape<Record<string, T | null>> {
  const expected = opts.expected ?? `a map of ${plural(value.expected)}`;
  return {
    expected,
    parse(input, path) {
      if (!isPlainObject(input)) throw mismatch(path, expected, input);
      const out: Record<string, T | null> = {};
      for (const [key, v] of Object.entries(input)) {
        if (v === null && opts.nullValues) out[key] = null;
        else out[key] = value.parse(v, childPath(path, key));
      }
      return out;
    },
  };
}
