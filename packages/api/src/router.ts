import { InvalidArgument } from '@berth/core';

/**
 * Maps `METHOD path` to a handler. Paths are templates: `{id}` captures one segment,
 * `{name*}` captures one or more (image names carry slashes:
 * `/images/127.0.0.1:5010/trc/busybox:v1/json`). Fixed paths are found in a map, the
 * rest by trying patterns in registration order, so register fixed siblings
 * (`/images/json`) and they win over patterns (`/images/{name*}/json`).
 */
export class Router<H> {
  private readonly exact = new Map<string, H>();
  private readonly patterns: Array<{ method: string; regex: RegExp; handler: H }> = [];

  add(methods: string | string[], template: string, handler: H): this {
    for (const method of Array.isArray(methods) ? methods : [methods]) {
      if (!template.includes('{')) {
        this.exact.set(`${method} ${template}`, handler);
        continue;
      }
      const source = template
        .split(/(\{[a-zA-Z]+\*?\})/)
        .map((part) => {
          if (part.startsWith('{')) return part.endsWith('*}') ? '(.+)' : '([^/]+)';
          return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
        })
        .join('');
      this.patterns.push({ method, regex: new RegExp(`^${source}$`), handler });
    }
    return this;
  }

  /** The handler and the decoded captures for a request, or undefined (404). */
  match(method: string, path: string): { handler: H; params: string[] } | undefined {
    const fixed = this.exact.get(`${method} ${path}`);
    if (fixed !== undefined) return { handler: fixed, params: [] };
    for (const p of this.patterns) {
      if (p.method !== method) continue;
      const m = p.regex.exec(path);
      if (m) return { handler: p.handler, params: m.slice(1).map(decodeParam) };
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
