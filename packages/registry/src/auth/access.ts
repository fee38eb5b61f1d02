/** One access a request needs or a token grants: `repository:library/busybox:pull,push`, `registry:catalog:*`. */
export interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** Parses a token scope (`type:name:actions`, the name may itself hold colons); undefined when malformed. */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const actions = scope
    .slice(last + 1)
    .split(',')
    .filter((a) => a !== '');
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions };
}

export function formatScope(access: Access): string {
  return `${access.type}:${access.name}:${access.actions.join(',')}`;
}

/** True when `granted` holds every action `needed` asks for (`*` holds all). */
export function covers(granted: readonly Access[], needed: Access): boolean {
  const held = new Set<string>();
  for (const g of granted) if (g.type === needed.type && g.name === needed.name) for (const a of g.actions) held.add(a);
  return held.has('*') || needed.actions.every((a) => held.has(a));
}
