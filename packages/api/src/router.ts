import { InvalidArgument } from '@berth/core';

/**
 * The parameter names of a route template: `'/containers/{id}/json'` → `'id'`,
 * `'/images/{name*}/tag'` → `'name'`. Handlers are typed by them, so a handler that
 * reads `ctx.params.name` cannot be registered on a template that captures `{id}`.
 */
export type ParamNames<T extends string> = T extends `${string}{${infer P}}${infer Rest}`
  ? (P extends `${infer N}*` ? N : P) | ParamNames<Rest>
  : never;

/** A route's captures by name, percent-decoded. */
export type PathParams<P extends string = string> = Readonly<Record<P, string>>;

interface Pattern<H> {
  method: string;
  template: string;
  regex: RegExp;
  names: string[];
  handler: H;
}

/**
 * Maps `METHOD path` to a handler. Paths are templates: `{id}` captures one segment,
 * `{name*}` captures one or more (image names carry slashes:
 * `/images/127.0.0.1:5010/trc/busybox:v1/json`). Fixed paths are found in a map and
 * always win over patterns (`/images/json` over `/images/{name*}/json`, whatever the
 * order); patterns are tried in registration order, so of two that overlap the first
 * registered wins. The same method and template twice is an error: two handlers for one
 * route is a mistake, not an override (replace the module that registered it instead).
 */
export class Router<H> {
  private readonly exact = new Map<string, H>();
  private readonly patterns: Array<Pattern<H>> = [];

  add(methods: string | string[], template: string, handler: H): this {
    for (const method of Array.isArray(methods) ? methods : [methods]) {
      if (this.has(method, template)) throw new Error(`route ${method} ${template} is registered twice`);
      if (!template.includes('{')) {
        this.exact.set(`${method} ${template}`, handler);
        continue;
      }
      const names: string[] = [];
      const source = template
        .split(/(\{[a-zA-Z]+\*?\})/)
        .map((part) => {
          if (!part.startsWith('{')) return part.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&');
          const many = part.endsWith('*}');
          names.push(part.slice(1, many ? -2 : -1));
          return many ? '(.+)' : '([^/]+)';
        })
        .join('');
      this.patterns.push({ method, template, regex: new RegExp(`^${source}$`), names, handler });
    }
    return this;
  }

  /** Whether `method template` is registered (the template as written, not a path it matches). */
  has(method: string, template: string): boolean {
    return this.exact.has(`${method} ${template}`) || this.patterns.some((p) => p.method === method && p.template === template);
  }

  /** The handler and the decoded captures for a request, or undefined (404). */
  match(method: string, path: string): { handler: H; params: PathParams } | undefined {
    const fixed = this.exact.get(`${method} ${path}`);
    if (fixed !== undefined) return { handler: fixed, params: {} };
    for (const p of this.patterns) {
      if (p.method !== method) continue;
      const m = p.regex.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      p.names.forEach((name, i) => {
        params[name] = decodeParam(m[i + 1]!);
      });
      return { handler: p.handler, params };
    }
    return undefined;
  }
}

function decodeParam(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidArgument(`malformed percent-encoding in path: ${raw}`);
  }
}
