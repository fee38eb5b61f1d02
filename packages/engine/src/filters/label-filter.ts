/**
 * Docker's `label` filter value against an object's labels: `key` (the label is there)
 * or `key=value` (it is, with that value; split at the first `=`, as dockerd's
 * MatchKVList does). Containers, images, networks and volumes filter with it.
 */
export function matchesLabel(labels: Record<string, string> | null | undefined, spec: string): boolean {
  const all = labels ?? {};
  const eq = spec.indexOf('=');
  return eq < 0 ? spec in all : all[spec.slice(0, eq)] === spec.slice(eq + 1);
}
