/**
 * The part of Go's text/template that `--format` strings use: `{{.Field.Sub}}`, `{{json .X}}`,
 * pipelines (`{{.Names | upper}}`), `{{if}}/{{else}}/{{range}}/{{with}}/{{end}}`, `{{-`/`-}}`
 * trimming, and docker's functions (json, join, split, lower, upper, title, pad, truncate)
 * plus Go's builtins (index, len, printf, print, println, eq, ne, lt, le, gt, ge, and, or, not).
 * Values print as Go prints JSON-decoded data: `<no value>` for a missing key, `<nil>`,
 * `[a b]`, `map[k:v]`.
 */

/** A `--format` the template cannot parse or run; the CLI prints it and exits 1. */
export class TemplateError extends Error {}

type Arg =
  | { k: 'field'; root: boolean; path: string[] }
  | { k: 'ident'; name: string }
  | { k: 'lit'; v: unknown }
  | { k: 'pipe'; p: Pipeline };
type Command = Arg[];
type Pipeline = Command[];
type Node =
  | { t: 'text'; s: string }
  | { t: 'action'; p: Pipeline }
  | { t: 'if' | 'range' | 'with'; p: Pipeline; body: Node[]; alt: Node[] };

/** Something a template can be run on: a plain object (JSON), or a context whose getters compute fields. */
export type TemplateData = unknown;

export interface RenderOptions {
  /** Table headers: docker's functions return their argument unchanged. */
  header?: boolean;
}

/** A parsed template; `render` runs it on one value. */
export class Template {
  private constructor(private readonly nodes: Node[]) {}

  static parse(source: string): Template {
    return new Template(parseTemplate(source));
  }

  render(data: TemplateData, options: RenderOptions = {}): string {
    const out: string[] = [];
    execNodes(this.nodes, data, data, out, options.header === true);
    return out.join('');
  }
}

// ---- lexing and parsing ----

interface RawAction {
  text: string;
}

function splitSource(source: string): Array<string | RawAction> {
  const parts: Array<string | RawAction> = [];
  let i = 0;
  let trimNext = false;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    let text = open < 0 ? source.slice(i) : source.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open < 0) {
      if (text) parts.push(text);
      break;
    }
    let j = open + 2;
    let trimLeft = false;
    if (/^-[ \t\r\n]/.test(source.slice(j, j + 2))) {
      trimLeft = true;
      j += 1;
    }
    if (trimLeft) text = text.replace(/\s+$/, '');
    if (text) parts.push(text);
    let k = j;
    let quote: string | null = null;
    for (; k < source.length; k++) {
      const ch = source[k]!;
      if (quote) {
        if (ch === '\\' && quote === '"') k++;
        else if (ch === quote) quote = null;
      } else if (ch === '"' || ch === '`') quote = ch;
      else if (source.startsWith('}}', k)) break;
    }
    if (k >= source.length) throw new TemplateError('template: :1: unclosed action');
    let inner = source.slice(j, k);
    trimNext = false;
    if (/[ \t\r\n]-$/.test(inner)) {
      inner = inner.slice(0, -1);
      trimNext = true;
    }
    parts.push({ text: inner });
    i = k + 2;
  }
  return parts;
}

type Token =
  | { k: 'field'; root: boolean; path: string[] }
  | { k: 'ident'; name: string }
  | { k: 'lit'; v: unknown }
  | { k: 'sym'; s: string };

function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const ws = /^\s+/.exec(rest);
    if (ws) {
      i += ws[0].length;
      continue;
    }
    const ch = rest[0]!;
    if (ch === '|' || ch === '(' || ch === ')') {
      tokens.push({ k: 'sym', s: ch });
      i++;
      continue;
    }
    if (ch === '"') {
      const m = /^"(?:[^"\\]|\\.)*"/.exec(rest);
      if (!m) throw new TemplateError('template: :1: unterminated quoted string');
      tokens.push({ k: 'lit', v: unquote(m[0]) });
      i += m[0].length;
      continue;
    }
    if (ch === '`') {
      const end = rest.indexOf('`', 1);
      if (end < 0) throw new TemplateError('template: :1: unterminated raw quoted string');
      tokens.push({ k: 'lit', v: rest.slice(1, end) });
      i += end + 1;
      continue;
    }
    const field = /^(\$)?((?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)?/.exec(rest)!;
    if (field[0] && (field[1] || field[2])) {
      const path = field[2] && field[2] !== '.' ? field[2].slice(1).split('.') : [];
      tokens.push({ k: 'field', root: field[1] === '$', path });
      i += field[0].length;
      continue;
    }
    const num = /^-?\d+(?:\.\d+)?/.exec(rest);
    if (num) {
      tokens.push({ k: 'lit', v: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (ident) {
      const name = ident[0];
      if (name === 'true' || name === 'false') tokens.push({ k: 'lit', v: name === 'true' });
      else if (name === 'nil') tokens.push({ k: 'lit', v: null });
      else tokens.push({ k: 'ident', name });
      i += name.length;
      continue;
    }
    throw new TemplateError(`template: :1: unexpected "${ch}" in command`);
  }
  return tokens;
}

function unquote(q: string): string {
  const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', a: '\x07', b: '\b', f: '\f', v: '\v' };
  return q.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)/g, (_, e: string) => {
    if (e.length > 1) return String.fromCodePoint(parseInt(e.slice(1), 16));
    return escapes[e] ?? e;
  });
}

function parsePipeline(tokens: Token[], pos: { i: number }, closing?: string): Pipeline {
  const pipeline: Pipeline = [];
  let cmd: Command = [];
  while (pos.i < tokens.length) {
    const tok = tokens[pos.i]!;
    if (tok.k === 'sym' && tok.s === ')') {
      if (closing !== ')') throw new TemplateError('template: :1: unexpected right paren');
      break;
    }
    pos.i++;
    if (tok.k === 'sym' && tok.s === '|') {
      if (!cmd.length) throw new TemplateError('template: :1: missing command before "|"');
      pipeline.push(cmd);
      cmd = [];
    } else if (tok.k === 'sym' && tok.s === '(') {
      const inner = parsePipeline(tokens, pos, ')');
      if (tokens[pos.i]?.k !== 'sym') throw new TemplateError('template: :1: unclosed left paren');
      pos.i++;
      cmd.push({ k: 'pipe', p: inner });
    } else {
      cmd.push(tok as Arg);
    }
  }
  if (cmd.length) pipeline.push(cmd);
  else if (pipeline.length) throw new TemplateError('template: :1: missing command after "|"');
  return pipeline;
}

function parseTemplate(source: string): Node[] {
  const root: Node[] = [];
  const stack: Array<{ node: Extract<Node, { t: 'if' | 'range' | 'with' }>; inAlt: boolean; chained: number }> = [];
  const current = (): Node[] => {
    const top = stack[stack.length - 1];
    if (!top) return root;
    return top.inAlt ? top.node.alt : top.node.body;
  };
  for (const part of splitSource(source)) {
    if (typeof part === 'string') {
      current().push({ t: 'text', s: part });
      continue;
    }
    const tokens = lex(part.text);
    const first = tokens[0];
    const keyword = first?.k === 'ident' ? first.name : '';
    const pipelineAfter = (n: number): Pipeline => {
      const pos = { i: n };
      const p = parsePipeline(tokens, pos);
      if (!p.length) throw new TemplateError(`template: :1: missing value for ${keyword}`);
      return p;
    };
    if (keyword === 'if' || keyword === 'range' || keyword === 'with') {
      const node = { t: keyword, p: pipelineAfter(1), body: [] as Node[], alt: [] as Node[] } as const;
      current().push(node);
      stack.push({ node, inAlt: false, chained: 0 });
    } else if (keyword === 'else') {
      const top = stack[stack.length - 1];
      if (!top || top.inAlt) throw new TemplateError('template: :1: unexpected {{else}}');
      top.inAlt = true;
      const next = tokens[1];
      if (next?.k === 'ident' && (next.name === 'if' || next.name === 'with')) {
        // `{{else if x}}` is an if nested in the else branch, closed by the same {{end}}.
        const node = { t: next.name, p: pipelineAfter(2), body: [] as Node[], alt: [] as Node[] } as const;
        top.node.alt.push(node);
        stack.push({ node, inAlt: false, chained: top.chained + 1 });
      }
    } else if (keyword === 'end') {
      if (!stack.length) throw new TemplateError('template: :1: unexpected {{end}}');
      let top = stack.pop()!;
      while (top.chained > 0) top = stack.pop()!;
    } else {
      const pos = { i: 0 };
      const p = parsePipeline(tokens, pos);
      if (!p.length) throw new TemplateError('template: :1: missing value for command');
      checkFunctions(p);
      current().push({ t: 'action', p });
    }
  }
  if (stack.length) throw new TemplateError('template: :1: unexpected EOF');
  return root;
}

function checkFunctions(p: Pipeline): void {
  for (const cmd of p) {
    for (const arg of cmd) {
      if (arg.k === 'ident' && !(arg.name in FUNCTIONS)) throw new TemplateError(`template: :1: function "${arg.name}" not defined`);
      if (arg.k === 'pipe') checkFunctions(arg.p);
    }
  }
}

// ---- evaluation ----

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function fieldOf(obj: unknown, name: string, args: unknown[], last: boolean): unknown {
  if (obj === undefined || obj === null) return undefined;
  if (isPlainObject(obj)) {
    if (!Object.hasOwn(obj, name)) return undefined;
    const v = obj[name];
    return typeof v === 'function' ? (v as (...a: unknown[]) => unknown)(...(last ? args : [])) : v;
  }
  if (typeof obj === 'object' && name in obj) {
    const v = (obj as Record<string, unknown>)[name];
    if (typeof v === 'function') return (v as (...a: unknown[]) => unknown).apply(obj, last ? args : []);
    return v;
  }
  throw new TemplateError(`template: :1: can't evaluate field ${name}`);
}

function evalArg(arg: Arg, dot: unknown, root: unknown, header: boolean, extra: unknown[] = []): unknown {
  switch (arg.k) {
    case 'lit':
      return arg.v;
    case 'pipe':
      return evalPipeline(arg.p, dot, root, header);
    case 'ident':
      return callFunction(arg.name, extra, header);
    case 'field': {
      let v: unknown = arg.root ? root : dot;
      arg.path.forEach((name, i) => {
        v = fieldOf(v, name, extra, i === arg.path.length - 1);
      });
      return v;
    }
  }
}

function evalPipeline(p: Pipeline, dot: unknown, root: unknown, header: boolean): unknown {
  let value: unknown;
  p.forEach((cmd, ci) => {
    const [head, ...rest] = cmd;
    const args = rest.map((a) => evalArg(a, dot, root, header));
    if (ci > 0) args.push(value);
    if (head!.k === 'ident') value = callFunction(head!.name, args, header);
    else if (head!.k === 'field' && head!.path.length) value = evalArg(head!, dot, root, header, args);
    else if (args.length) throw new TemplateError(`template: :1: can't give argument to non-function`);
    else value = evalArg(head!, dot, root, header);
  });
  return value;
}

function execNodes(nodes: Node[], dot: unknown, root: unknown, out: string[], header: boolean): void {
  for (const node of nodes) {
    switch (node.t) {
      case 'text':
        out.push(node.s);
        break;
      case 'action':
        out.push(printValue(evalPipeline(node.p, dot, root, header)));
        break;
      case 'if': {
        const v = evalPipeline(node.p, dot, root, header);
        execNodes(truthy(v) ? node.body : node.alt, dot, root, out, header);
        break;
      }
      case 'with': {
        const v = evalPipeline(node.p, dot, root, header);
        if (truthy(v)) execNodes(node.body, v, root, out, header);
        else execNodes(node.alt, dot, root, out, header);
        break;
      }
      case 'range': {
        const v = evalPipeline(node.p, dot, root, header);
        const items = Array.isArray(v)
          ? v
          : isPlainObject(v)
            ? Object.keys(v)
                .sort()
                .map((k) => v[k])
            : [];
        if (!items.length) execNodes(node.alt, dot, root, out, header);
        for (const item of items) execNodes(node.body, item, root, out, header);
        break;
      }
    }
  }
}

/** Go's notion of "true" in `if`: not false, 0, nil, or empty. */
export function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

/** How Go prints a JSON-decoded value with `{{.}}`. */
export function printValue(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? '<nil>' : printValue(x))).join(' ')}]`;
  if (isPlainObject(v)) {
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${printValue(v[k] === undefined ? null : v[k])}`)
      .join(' ')}]`;
  }
  return String(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : printValue(v);
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return str(a) < str(b) ? -1 : str(a) > str(b) ? 1 : 0;
}

function sprintf(format: string, args: unknown[]): string {
  let i = 0;
  return format.replace(/%([-+ 0#]*\d*(?:\.\d+)?)([%vsdqtfx])/g, (_m, _flags: string, verb: string) => {
    if (verb === '%') return '%';
    const a = args[i++];
    switch (verb) {
      case 'd':
        return String(Math.trunc(Number(a)));
      case 'q':
        return JSON.stringify(str(a));
      case 'x':
        return typeof a === 'number' ? a.toString(16) : Buffer.from(str(a)).toString('hex');
      default:
        return str(a);
    }
  });
}

const HEADER_PASSTHROUGH = new Set(['json', 'split', 'join', 'title', 'lower', 'upper', 'pad', 'truncate']);

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  json: (v) => JSON.stringify(v === undefined ? null : v),
  join: (list, sep) => (Array.isArray(list) ? list.map(str).join(str(sep)) : str(list)),
  split: (s, sep) => str(s).split(str(sep)),
  lower: (s) => str(s).toLowerCase(),
  upper: (s) => str(s).toUpperCase(),
  title: (s) => str(s).replace(/(^|\s)(\S)/g, (_m, a: string, b: string) => a + b.toUpperCase()),
  pad: (s, before, after) => ' '.repeat(Number(before) || 0) + str(s) + ' '.repeat(Number(after) || 0),
  truncate: (s, n) => {
    const chars = [...str(s)];
    return chars.length <= Number(n) ? str(s) : chars.slice(0, Number(n)).join('');
  },
  index: (obj, ...keys) => {
    let v: unknown = obj;
    for (const key of keys) {
      if (v === null || v === undefined) return undefined;
      if (Array.isArray(v)) v = v[Number(key)];
      else if (typeof v === 'object') v = (v as Record<string, unknown>)[str(key)] ?? '';
      else throw new TemplateError(`template: :1: can't index item of type ${typeof v}`);
    }
    return v;
  },
  len: (v) => (typeof v === 'string' || Array.isArray(v) ? v.length : isPlainObject(v) ? Object.keys(v).length : 0),
  printf: (format, ...args) => sprintf(str(format), args),
  print: (...args) => args.map(str).join(''),
  println: (...args) => `${args.map(str).join(' ')}\n`,
  eq: (a, ...bs) => bs.some((b) => a === b || (a !== null && typeof a !== 'object' && str(a) === str(b) && typeof a === typeof b)),
  ne: (a, b) => a !== b,
  lt: (a, b) => compare(a, b) < 0,
  le: (a, b) => compare(a, b) <= 0,
  gt: (a, b) => compare(a, b) > 0,
  ge: (a, b) => compare(a, b) >= 0,
  and: (...args) => args.find((a) => !truthy(a)) ?? args[args.length - 1],
  or: (...args) => args.find((a) => truthy(a)) ?? args[args.length - 1],
  not: (a) => !truthy(a),
};

function callFunction(name: string, args: unknown[], header: boolean): unknown {
  if (header && HEADER_PASSTHROUGH.has(name)) return args[0];
  const fn = FUNCTIONS[name];
  if (!fn) throw new TemplateError(`template: :1: function "${name}" not defined`);
  return fn(...args);
}
