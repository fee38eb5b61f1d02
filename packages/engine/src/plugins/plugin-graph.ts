import { type AnyPluginManifest, type PluginKindInfo, parseRequirement } from '@berth/core';

/** `kind/name`: how plugins are named in statuses, requirements and messages. */
export function pluginKey(m: { kind: string; name: string }): string {
  return `${m.kind}/${m.name}`;
}

/** One requirement of one plugin, resolved against the manifests offered. */
export interface ResolvedRequirement {
  /** As declared: `network` or `network/bridge`. */
  requirement: string;
  kind: string;
  /** `kind/name` rather than a whole kind. */
  named: boolean;
  /** The plugins whose outcome it waits for; empty when none is offered. */
  targets: AnyPluginManifest[];
}

/** The plugins' requirements, resolved, and the plugins that can never initialise because they wait on themselves. */
export interface PluginGraph {
  /** By `kind/name`, in the order the manifest declared them. */
  requirements: Map<string, ResolvedRequirement[]>;
  /** By `kind/name`, for each plugin in a cycle: the reason it is skipped, naming the requirement that closes the cycle. */
  cycles: Map<string, string>;
}

/**
 * Resolves every plugin's `requires` against the manifests offered and finds the cycles
 * (containerd refuses to start on one; berth skips the plugins in it and carries on).
 *
 * A requirement of a kind waits for every plugin of that kind but the requirer itself.
 * A requirement on a kind the engine uses one driver of (storage), by kind or by name,
 * waits for the choice, which may try any candidate: the graph has a node for the
 * choice with an edge to every candidate, so a candidate requiring another candidate
 * is a cycle through the choice (`storage/a → the storage choice → storage/a`).
 */
export function pluginGraph(manifests: readonly AnyPluginManifest[], kinds: Readonly<Record<string, PluginKindInfo>>): PluginGraph {
  const byKey = new Map(manifests.map((m) => [pluginKey(m), m]));
  const requirements = new Map<string, ResolvedRequirement[]>();
  const edges = new Map<string, Map<string, string>>(); // from → (to → the requirement that makes the edge)
  for (const m of manifests) {
    const from = pluginKey(m);
    const resolved: ResolvedRequirement[] = [];
    const out = new Map<string, string>();
    for (const requirement of m.requires ?? []) {
      const { kind, name } = parseRequirement(requirement);
      const ofKind = manifests.filter((t) => t.kind === kind);
      const named = name !== undefined;
      const targets = named ? ofKind.filter((t) => t.name === name) : ofKind.filter((t) => t !== m);
      resolved.push({ requirement, kind, named, targets });
      if (kinds[kind]?.use === 'one' && targets.length > 0) {
        // Through the choice, which may try every candidate: a node of its own, so a cycle reads as one.
        const choice = `the ${kind} choice`;
        if (!edges.has(choice)) edges.set(choice, new Map(ofKind.map((t) => [pluginKey(t), choice])));
        if (!out.has(choice)) out.set(choice, requirement);
      } else for (const t of targets) if (!out.has(pluginKey(t))) out.set(pluginKey(t), requirement);
    }
    requirements.set(from, resolved);
    edges.set(from, out);
  }
  return { requirements, cycles: findCycles(byKey, edges) };
}

/** Tarjan's strongly connected components; every plugin in one of more than one plugin, or requiring itself, is in a cycle. */
function findCycles(byKey: Map<string, AnyPluginManifest>, edges: Map<string, Map<string, string>>): Map<string, string> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      components.push(component);
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);

  const cycles = new Map<string, string>();
  for (const component of components) {
    const members = new Set(component);
    for (const v of component) {
      if (!byKey.has(v)) continue; // a choice, not a plugin
      if (component.length === 1 && !edges.get(v)?.has(v)) continue;
      const route = shortestLoop(v, members, edges);
      const requirement = edges.get(v)!.get(route[1])!;
      cycles.set(v, `requires ${requirement}, a cycle: ${route.join(' → ')}`);
    }
  }
  return cycles;
}

/** The shortest path from `start` back to itself inside its component, both ends included. */
function shortestLoop(start: string, members: Set<string>, edges: Map<string, Map<string, string>>): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const back: string[] = []; // v, its predecessor, ..., start
        for (let at: string | undefined = v; at !== undefined; at = at === start ? undefined : previous.get(at)) back.push(at);
        return [...back.reverse(), start];
      }
      if (!previous.has(w) && w !== start) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}
