import { type BigIntStats, lstatSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { getXattr } from '@berth/native';

/** overlayfs's marks, kept as the kernel writes them so a layer is the same bytes under either driver. */
export const OPAQUE_XATTR = 'trusted.overlay.opaque';
/** The prefix of every xattr overlayfs reserves; never shown to or set by a caller. */
export const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';

/** Where a path of the merged view lives: the layer (0 = upper) and its lstat there. */
export interface Located {
  layer: number;
  stat: BigIntStats;
}

/** A whiteout: a character device 0:0 (overlayfs's on-disk format). */
export function isWhiteout(st: { isCharacterDevice(): boolean; rdev: number | bigint }): boolean {
  return st.isCharacterDevice() && Number(st.rdev) === 0;
}

/**
 * The merged view of an upper directory over read-only lower directories, read the
 * way kernel overlayfs reads them: the topmost layer holding a name wins; a whiteout
 * hides the name below it; a directory merges with directories of the same path in
 * the layers below until one is opaque (`trusted.overlay.opaque=y`) or a layer holds a
 * non-directory or a whiteout there.
 *
 * Layer 0 is the upper directory, 1…n the lowers, nearest first. Which layers make up
 * each merged directory is cached (lowers never change and the upper changes only
 * through this process, which calls `forget` for what it changes).
 */
export class UnionLayers {
  /** The layers' root directories: upper first. */
  readonly roots: readonly string[];
  private readonly dirs = new Map<string, number[]>();

  constructor(upper: string, lowers: readonly string[]) {
    this.roots = [upper, ...lowers];
  }

  /** The real path of `p` (a merged path, `/…`) in `layer`. */
  real(layer: number, p: string): string {
    return p === '/' ? this.roots[layer]! : this.roots[layer] + p;
  }

  /** The upper directory's path for `p`. */
  upper(p: string): string {
    return this.real(0, p);
  }

  /** Where `p` is visible, or undefined when the merged view has nothing there. */
  locate(p: string): Located | undefined {
    if (p === '/') {
      const stat = lstatSync(this.roots[0]!, { bigint: true });
      return { layer: 0, stat };
    }
    const parent = this.dirLayers(path.posix.dirname(p));
    if (!parent) return undefined;
    for (const layer of parent) {
      const stat = lstatSync(this.real(layer, p), { bigint: true, throwIfNoEntry: false });
      if (!stat) continue;
      if (isWhiteout(stat)) return undefined;
      return { layer, stat };
    }
    return undefined;
  }

  /** Whether a lower layer (not the upper) shows something at `p` through `p`'s parent: deleting it needs a whiteout. */
  inLower(p: string): boolean {
    const parent = this.dirLayers(path.posix.dirname(p));
    if (!parent) return false;
    for (const layer of parent) {
      if (layer === 0) continue;
      const stat = lstatSync(this.real(layer, p), { throwIfNoEntry: false });
      if (!stat) continue;
      return !isWhiteout(stat);
    }
    return false;
  }

  /**
   * The layers whose directory `p` makes up the merged directory `p`, top first, or
   * undefined when `p` is not a directory of the merged view.
   */
  dirLayers(p: string): number[] | undefined {
    const cached = this.dirs.get(p);
    if (cached) return cached;
    let layers: number[] | undefined;
    if (p === '/') {
      layers = this.roots.map((_, i) => i);
    } else {
      const parent = this.dirLayers(path.posix.dirname(p));
      if (!parent) return undefined;
      layers = [];
      for (const layer of parent) {
        const real = this.real(layer, p);
        const stat = lstatSync(real, { throwIfNoEntry: false });
        if (!stat) continue;
        if (!stat.isDirectory()) {
          if (layers.length === 0 && !isWhiteout(stat)) return undefined;
          break;
        }
        layers.push(layer);
        if (getXattr(real, OPAQUE_XATTR) === 'y') break;
      }
      if (layers.length === 0) return undefined;
    }
    this.dirs.set(p, layers);
    return layers;
  }

  /**
   * The names in the merged directory `p` (without `.` and `..`): each layer's entries,
   * top first, less those hidden by a whiteout above. Undefined when `p` is no directory.
   */
  list(p: string): string[] | undefined {
    const layers = this.dirLayers(p);
    if (!layers) return undefined;
    const seen = new Set<string>();
    const names: string[] = [];
    for (const layer of layers) {
      const dir = this.real(layer, p);
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (seen.has(entry.name)) continue;
        seen.add(entry.name);
        if (entry.isCharacterDevice()) {
          const stat = lstatSync(path.join(dir, entry.name), { throwIfNoEntry: false });
          if (stat && isWhiteout(stat)) continue;
        }
        names.push(entry.name);
      }
    }
    return names;
  }

  /** Drop what is cached for `p` and everything below it (after a change of the upper there). */
  forget(p: string): void {
    this.dirs.delete(p);
    const prefix = p === '/' ? '/' : `${p}/`;
    for (const key of this.dirs.keys()) if (key.startsWith(prefix)) this.dirs.delete(key);
  }

  /** Drop the cached layers of `p` alone (its content changed, not what lies below). */
  forgetOne(p: string): void {
    this.dirs.delete(p);
  }
}
