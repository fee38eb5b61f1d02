import { lstatSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { type SnapshotChange, sortChanges } from '@berth/core';
import { getXattr } from '@berth/native';
import { isWhiteout, OPAQUE_XATTR, UnionLayers } from './union-layers.js';

/**
 * What an upper directory changes over its lower directories (nearest first), by the
 * StorageDriver.changes rules, read from the upper alone (the differ's fast path). The
 * union filesystem keeps the changes there as overlayfs does: an entry is added when the
 * merged lower has nothing at its path and modified otherwise; a whiteout deletes its
 * path; an opaque directory deletes every lower entry below it the upper does not hold
 * again. A modified directory is marked `opaque` by the contract's rule (every lower
 * entry in it deleted), so the result equals core's treeChanges over the same trees.
 */
export function upperChanges(upper: string, lowers: readonly string[]): SnapshotChange[] {
  // The lowers alone, merged: an empty first layer stands for "no upper".
  const lower = lowers.length > 0 ? new UnionLayers(lowers[0]!, lowers.slice(1)) : undefined;
  const inLower = (rel: string) => lower?.locate(rel);
  const changes: SnapshotChange[] = [];
  const walk = (dir: string, added: boolean): void => {
    for (const name of readdirSync(path.join(upper, dir))) {
      const rel = dir === '/' ? `/${name}` : `${dir}/${name}`;
      const st = lstatSync(path.join(upper, rel));
      const below = added ? undefined : inLower(rel);
      if (isWhiteout(st)) {
        if (below) changes.push({ path: rel, kind: 'deleted' });
        continue;
      }
      changes.push({ path: rel, kind: below ? 'modified' : 'added' });
      if (!st.isDirectory()) continue;
      if (below?.stat.isDirectory() && getXattr(path.join(upper, rel), OPAQUE_XATTR) === 'y') {
        const kept = new Set(readdirSync(path.join(upper, rel)));
        for (const old of lower?.list(rel) ?? []) if (!kept.has(old)) changes.push({ path: `${rel}/${old}`, kind: 'deleted' });
      }
      walk(rel, !below?.stat.isDirectory());
    }
  };
  walk('/', false);
  if (lower) markOpaque(changes, lower, upper);
  return sortChanges(changes);
}

/** SnapshotChange.opaque on each modified directory whose every lower entry is deleted. */
function markOpaque(changes: SnapshotChange[], lower: UnionLayers, upper: string): void {
  const deleted = new Set(changes.filter((c) => c.kind === 'deleted').map((c) => c.path));
  if (deleted.size === 0) return;
  for (const change of changes) {
    if (change.kind !== 'modified') continue;
    if (!lstatSync(path.join(upper, change.path)).isDirectory()) continue;
    const old = lower.list(change.path);
    if (old && old.length > 0 && old.every((name) => deleted.has(`${change.path}/${name}`))) change.opaque = true;
  }
}
