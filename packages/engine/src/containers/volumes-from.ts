import { InvalidArgument } from '@berth/core';
import { parseBind } from '../oci/mounts.js';
import type { ContainerRecord } from './container-record.js';

/**
 * `--volumes-from <container>[:ro|:rw]` (HostConfig.VolumesFrom) as `-v` entries: every
 * volume and bind mount of each named container, at the same destination, read-only as
 * in that container unless the entry says `ro` or `rw`. A destination the new container
 * mounts itself (`ownDestinations`) keeps its own mount, as in Docker. The volumes are
 * named, so the new container's `rm -v` never removes another container's anonymous ones.
 */
export function volumesFromBinds(
  entries: readonly string[] | null | undefined,
  find: (ref: string) => ContainerRecord | undefined,
  ownDestinations: ReadonlySet<string>,
): string[] {
  const out: string[] = [];
  const taken = new Set(ownDestinations);
  for (const entry of entries ?? []) {
    const colon = entry.lastIndexOf(':');
    const mode = colon > 0 ? entry.slice(colon + 1) : '';
    const ref = colon > 0 ? entry.slice(0, colon) : entry;
    if (mode !== '' && mode !== 'ro' && mode !== 'rw') throw new InvalidArgument(`invalid mode for volumes-from: ${mode}`);
    if (ref === '') throw new InvalidArgument(`invalid volumes-from entry ${JSON.stringify(entry)}: no container named`);
    const source = find(ref);
    // A 400, not a 404: the docker CLI takes a 404 from create for a missing image and pulls.
    if (!source) throw new InvalidArgument(`No such container: ${ref}`);
    const readOnly = (own: boolean) => (mode === '' ? own : mode === 'ro');
    for (const v of source.volumes ?? []) {
      if (taken.has(v.destination)) continue;
      taken.add(v.destination);
      out.push(`${v.name}:${v.destination}${readOnly(v.readOnly) ? ':ro' : ''}`);
    }
    for (const raw of [...(source.hostConfig.Binds ?? []), ...(source.volumesFromBinds ?? [])]) {
      const bind = parseBind(raw);
      if (bind.kind !== 'bind' || taken.has(bind.destination)) continue;
      taken.add(bind.destination);
      out.push(`${bind.source}:${bind.destination}:${readOnly(bind.readonly) ? 'ro' : 'rw'},${bind.propagation}`);
    }
  }
  return out;
}
