import { withSuggestion } from './suggest.js';

/** The mount types of `RUN --mount=type=…`. */
export type RunMountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';

/**
 * One `RUN --mount`, its fields checked (and, from the stage evaluator, expanded),
 * with BuildKit's defaults: type bind; bind and secret and ssh read-only unless `rw`,
 * cache and tmpfs read-write.
 */
export interface RunMount {
  type: RunMountType;
  /** bind/cache: a stage name or index, or an image, to take the files from. */
  from?: string;
  source?: string;
  target?: string;
  readOnly: boolean;
  /** secret/ssh: fail when the secret was not given. */
  required: boolean;
  /** tmpfs: size limit in bytes. */
  size?: number;
  /** cache: the cache's id (default: the target); secret: the secret's id. */
  id?: string;
  sharing?: 'shared' | 'private' | 'locked';
  mode?: number;
  uid?: number;
  gid?: number;
  /** secret: expose the secret as this environment variable. */
  env?: string;
}

const mountTypes: RunMountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const mountKeys = [
  'type',
  'from',
  'source',
  'target',
  'readonly',
  'id',
  'sharing',
  'required',
  'size',
  'mode',
  'uid',
  'gid',
  'src',
  'dst',
  'destination',
  'ro',
  'rw',
  'readwrite',
  'env',
];

/** Go's strconv.ParseBool. */
function parseBool(key: string, value: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new Error(`invalid value for ${key}: ${value}`);
}

/** docker/go-units RAMInBytes: `64m`, `1g`, `512k`, `1024`, binary multiples. */
function ramInBytes(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i.exec(value);
  if (!m) return undefined;
  const power = ['', 'k', 'm', 'g', 't', 'p'].indexOf(m[2]!.toLowerCase());
  return Math.floor(Number(m[1]) * 1024 ** power);
}

/** Comma-separated fields; a field may be double-quoted to hold commas (`"a,b"`, `""` for `"`). */
export function csvFields(text: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  if (quoted) throw new Error(`failed to parse csv mounts: extraneous or missing " in quoted-field`);
  fields.push(field);
  return fields;
}

/** A mount's `from=` takes no variables (a `$` at its very end is text), as in BuildKit. */
function checkFromValue(value: string): void {
  const dollar = value.indexOf('$');
  if (dollar !== -1 && dollar !== value.length - 1)
    throw new Error("'from' doesn't support variable expansion, define alias stage instead");
}

/**
 * What can be checked of a mount spec before its variables are known: its fields'
 * shape and a `from=` without variables. Throws an Error whose message is the problem.
 */
export function checkRunMountSpec(spec: string): void {
  for (const field of csvFields(spec)) {
    const eq = field.indexOf('=');
    if (eq > 0 && field.slice(0, eq).toLowerCase() === 'from') checkFromValue(field.slice(eq + 1));
  }
  // Without variables the whole spec can be checked now rather than when its stage runs.
  if (!spec.includes('$')) parseRunMount(spec);
}

/**
 * Parse `type=cache,target=/root/.cache,sharing=locked` with BuildKit's rules and words
 * (`unexpected key 'x' in 'x=1'`, `unsupported mount type "cahce" (did you mean cache?)`,
 * `mode not allowed for "bind" type mounts`, ...). `expand` expands each value (the
 * stage evaluator passes its ARG/ENV expansion); without it values are taken as
 * written. Throws an Error whose message is the problem.
 */
export function parseRunMount(spec: string, expand: (value: string) => string = (v) => v): RunMount {
  const m: RunMount = { type: 'bind', readOnly: true, required: false };
  let roAuto = true;
  for (const field of csvFields(spec)) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') m.readOnly = true;
      else if (key === 'readwrite' || key === 'rw') m.readOnly = false;
      else if (key === 'required') {
        if (m.type !== 'secret' && m.type !== 'ssh') throw new Error(`unexpected key '${key}' for mount type '${m.type}'`);
        m.required = true;
        continue;
      } else throw new Error(`invalid field '${field}' must be a key=value pair`);
      roAuto = false;
      continue;
    }
    const raw = field.slice(eq + 1);
    if (key === 'from') checkFromValue(raw);
    const value = key === 'from' ? raw : expand(raw);
    switch (key) {
      case 'type': {
        const type = value.toLowerCase() as RunMountType;
        if (!mountTypes.includes(type))
          throw new Error(withSuggestion(`unsupported mount type ${JSON.stringify(value)}`, value, mountTypes, true));
        m.type = type;
        break;
      }
      case 'from':
        m.from = value;
        break;
      case 'source':
      case 'src':
        m.source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = value;
        break;
      case 'readonly':
      case 'ro':
        m.readOnly = parseBool(key, value);
        roAuto = false;
        break;
      case 'readwrite':
      case 'rw':
        m.readOnly = !parseBool(key, value);
        roAuto = false;
        break;
      case 'required':
        if (m.type !== 'secret' && m.type !== 'ssh') throw new Error(`unexpected key '${key}' for mount type '${m.type}'`);
        m.required = parseBool(key, value);
        break;
      case 'size': {
        if (m.type !== 'tmpfs') throw new Error(`unexpected key '${key}' for mount type '${m.type}'`);
        const size = ramInBytes(value);
        if (size === undefined) throw new Error(`invalid value for ${key}: ${value}`);
        m.size = size;
        break;
      }
      case 'id':
        m.id = value;
        break;
      case 'sharing': {
        const sharing = value.toLowerCase();
        if (sharing !== 'shared' && sharing !== 'private' && sharing !== 'locked') {
          throw new Error(
            withSuggestion(`unsupported sharing value ${JSON.stringify(value)}`, value, ['shared', 'private', 'locked'], true),
          );
        }
        m.sharing = sharing;
        break;
      }
      case 'mode':
        if (!/^[0-7]+$/.test(value)) throw new Error(`invalid value ${value} for mode`);
        m.mode = Number.parseInt(value, 8);
        break;
      case 'uid':
      case 'gid': {
        if (!/^\d+$/.test(value) || Number(value) > 0xffffffff) throw new Error(`invalid value ${value} for ${key}`);
        m[key] = Number(value);
        break;
      }
      case 'env':
        m.env = value;
        break;
      default:
        throw new Error(withSuggestion(`unexpected key '${key}' in '${field}'`, key, mountKeys, true));
    }
  }
  const fileInfoAllowed = m.type === 'secret' || m.type === 'ssh' || m.type === 'cache';
  if (!fileInfoAllowed) {
    if (m.mode !== undefined) throw new Error(`mode not allowed for ${JSON.stringify(m.type)} type mounts`);
    if (m.uid !== undefined) throw new Error(`uid not allowed for ${JSON.stringify(m.type)} type mounts`);
    if (m.gid !== undefined) throw new Error(`gid not allowed for ${JSON.stringify(m.type)} type mounts`);
  }
  if (roAuto) m.readOnly = !(m.type === 'cache' || m.type === 'tmpfs');
  if (m.type === 'secret') {
    if (m.from !== undefined) throw new Error('secret mount should not have a from');
    if (m.sharing !== undefined) throw new Error('secret mount should not define sharing');
    if (m.source === undefined && m.target === undefined && m.id === undefined)
      throw new Error('invalid secret mount. one of source, target required');
    if (m.source !== undefined && m.id !== undefined) throw new Error("both source and id can't be set");
  }
  if (m.sharing !== undefined && m.type !== 'cache') throw new Error(`invalid cache sharing set for ${m.type} mount`);
  return m;
}
