import { promises as fs, type Stats } from 'node:fs';
import * as path from 'node:path';
import type { SnapshotChange } from '../contracts/storage.js';
import { sortChanges } from './tree-changes.js';

/**
 * Whether directory `dir` is opaque (`trusted.overlay.opaque=y`): it hides what the
 * layers below hold at its path. A driver reads the xattr through @berth/native, which
 * core may not import.
 */
export type OpaqueTest = (dir: string) => boolean;

/**
 * What an upper directory in overlayfs's on-disk format changes over its lower
 * directories (nearest first), with the StorageDriver.changes rules, read from the upper
 * alone (the differ's fast path for overlay and fuse, which keep exactly the changes
 * there): an entry is added when the merged lower has nothing at its path and modified
 * otherwise (a directory is copied up only for a change of its own or below it); a
 * whiteout (a 0:0 character device) deletes its path; an opaque directory deletes every
 * lower entry below it that the upper does not hold again. A modified directory is
 * marked `opaque` by the contract's rule (every entry the lower held in it deleted), not
 * from the xattr, so the result equals treeChanges over the same trees.
 */
export async function upperLayerChanges(upper: string, lowers: readonly string[], isOpaque: OpaqueTest): Promise<SnapshotChange[]> {
  const lower = new LowerLayers(lowers, isOpaque);
  const changes: SnapshotChange[] = [];
  const walk = async (dir: string, added: boolean): Promise<void> => {
    const names = await fs.readdir(path.join(upper, dir));
    for (const name of names) {
      const rel = path.posix.join(dir, name);
      const st = await fs.lstat(path.join(upper, rel));
      const inLower = !added && (await lower.stat(rel)) !== undefined;
      if (isWhiteout(st)) {
        if (inLower) changes.push({ path: rel, kind: 'deleted' });
        continue;
      }
      changes.push({ path: rel, kind: inLower ? 'modified' : 'added' });
      if (!st.isDirectory()) continue;
      if (inLower && isOpaque(path.join(upper, rel))) {
        const kept = new Set(await fs.readdir(path.join(upper, rel)));
        for (const old of await lower.entries(rel)) if (!kept.has(old)) changes.push({ path: path.posix.join(rel, old), kind: 'deleted' });
      }
      await walk(rel, !inLower);
    }
  };
  await walk('/', false);
  await markOpaque(changes, lower, upper);
  return sortChanges(changes);
}

/** SnapshotChange.opaque on each modified directory whose every lower entry is deleted. */
async function markOpaque(changes: SnapshotChange[], lower: LowerLayers, upper: string): Promise<void> {
  const deleted = new Set(changes.filter((c) => c.kind === 'deleted').map((c) => c.path));
  if (deleted.size === 0) return;
  for (const change of changes) {
    if (change.kind !== 'modified') continue;
    if (!(await fs.lstat(path.join(upper, change.path))).isDirectory()) continue;
    if (!(await lower.stat(change.path))?.isDirectory()) continue;
    const old = await lower.entries(change.path);
    if (old.length > 0 && old.every((name) => deleted.has(path.posix.join(change.path, name)))) change.opaque = true;
  }
}

/** overlayfs's whiteout: a character device 0:0. */
function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** The merged lower layers, read without mounting them: whiteouts and opaque directories applied. */
class LowerLayers {
  constructor(
    private readonly layers: readonly string[],
    private readonly isOpaque: OpaqueTest,
  ) {}

  /** What the merged lower has at `rel`, or undefined. */
  async stat(rel: string): Promise<Stats | undefined> {
    const parts = rel.split('/').filter((p) => p !== '');
    for (const layer of this.layers) {
      let dir = layer;
      let opaque = false;
      for (let i = 0; i < parts.length; i++) {
        dir = path.join(dir, parts[i]!);
        const st = await fs.lstat(dir).catch(() => undefined);
        if (!st) break;
        if (isWhiteout(st)) return undefined;
        if (i === parts.length - 1) return st;
        if (!st.isDirectory()) return undefined;
        if (this.isOpaque(dir)) opaque = true;
      }
      // An opaque directory on the way hides what the layers below hold there.
      if (opaque) return undefined;
    }
    return undefined;
  }

  /** The names the merged lower directory `rel` holds. */
  async entries(rel: string): Promise<string[]> {
    const names = new Set<string>();
    for (const layer of this.layers) for (const name of await fs.readdir(path.join(layer, rel)).catch(() => [])) names.add(name);
    const present: string[] = [];
    for (const name of names) if (await this.stat(path.posix.join(rel, name))) present.push(name);
    return present;
  }
}
