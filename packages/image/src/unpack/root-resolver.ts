import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgument } from '@berth/core';

/** A directory found inside the root: its host path and its path relative to the root. */
export interface ResolvedDir {
  abs: string;
  /** Components from the root, after following in-root symlinks. */
  rel: string[];
}

/**
 * What the resolver sees of a tree: the host filesystem when unpacking, an in-memory
 * model of a layer when checking one without unpacking it (`LayerChecker`).
 */
export interface TreeView {
  /** What is at `abs`, without following a final symlink; undefined when nothing is. */
  kind(abs: string): 'directory' | 'symlink' | 'other' | undefined;
  /** The target of the symlink at `abs`. */
  readlink(abs: string): string;
  /** Make the directory `abs` (mode 0755; its parent exists). */
  mkdir(abs: string): void;
}

/** The host filesystem, with synchronous calls (see RootResolver on why). */
export const hostTree: TreeView = {
  kind(abs) {
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (st === undefined) return undefined;
    return st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : 'other';
  },
  readlink: (abs) => fs.readlinkSync(abs),
  mkdir(abs) {
    fs.mkdirSync(abs, { mode: 0o755 });
    // mkdir's mode goes through the umask.
    fs.chmodSync(abs, 0o755);
  },
};

/** Linux gives up after 40 symlinks in one lookup; so do we. */
const maxSymlinks = 40;

/**
 * Turn an archive path's directory part into a host directory that is certainly
 * inside `root`, walking one component at a time with lstat and never letting the
 * kernel follow a link on its own:
 *
 * - a missing component is created (mode 0755) when asked, as Docker does for entries
 *   whose parents the tar does not list;
 * - a symlink is followed only when its target, read relative to where it sits, stays
 *   inside the root (`lib -> usr/lib`); an absolute target (`a -> /etc`) or one that
 *   climbs out (`a -> ../../..`) makes the entry refused, since writing through it
 *   would write on the host (the CVE-2018-15664 class);
 * - anything else (a file in the middle of a path) is refused.
 *
 * Resolved directories are cached by the path they were asked as; whoever removes or
 * replaces a directory or symlink under the root calls `invalidate()`.
 *
 * The lookups are synchronous system calls (a few microseconds each, mostly cached):
 * through the thread pool each would cost a round trip, which made unpacking a layer
 * of many small files ten times slower. They race with nothing: the engine unpacks
 * into a snapshot no container runs in. The native addon's openat2(RESOLVE_IN_ROOT) can replace this walk later; the
 * refusal policy above would stay.
 */
export class RootResolver {
  private readonly cache = new Map<string, ResolvedDir>();

  constructor(
    readonly root: string,
    private readonly tree: TreeView = hostTree,
  ) {}

  /**
   * The directory named by `parts` (archive path components, already free of `.`, `..`
   * and empty parts). `entry` names the tar entry in refusals. With `create` false, a
   * missing component yields undefined.
   */
  dir(parts: readonly string[], create: boolean, entry: string): ResolvedDir | undefined {
    return this.walk(parts, create, entry, { symlinks: 0 });
  }

  /** Forget every resolution (after a removal or replacement under the root). */
  invalidate(): void {
    this.cache.clear();
  }

  private walk(parts: readonly string[], create: boolean, entry: string, budget: { symlinks: number }): ResolvedDir | undefined {
    const whole = parts.join('/');
    const cached = this.cache.get(whole);
    if (cached) return cached;
    // Start from the longest cached prefix rather than the root.
    let start = 0;
    let cur: ResolvedDir = { abs: this.root, rel: [] };
    for (let i = parts.length - 1; i > 0; i--) {
      const hit = this.cache.get(parts.slice(0, i).join('/'));
      if (hit) {
        cur = hit;
        start = i;
        break;
      }
    }
    for (let i = start; i < parts.length; i++) {
      const name = parts[i]!;
      const next = path.join(cur.abs, name);
      const shown = parts.slice(0, i + 1).join('/');
      const kind = this.tree.kind(next);
      if (kind === undefined) {
        if (!create) return undefined;
        this.tree.mkdir(next);
        cur = { abs: next, rel: [...cur.rel, name] };
        this.cache.set(shown, cur);
        continue;
      }
      if (kind === 'directory') {
        cur = { abs: next, rel: [...cur.rel, name] };
      } else if (kind === 'symlink') {
        if (++budget.symlinks > maxSymlinks) throw refuse(entry, `too many levels of symbolic links at "${shown}"`);
        const target = this.tree.readlink(next);
        if (target.startsWith('/')) {
          throw refuse(entry, `"${shown}" is a symlink to ${target}, outside the layer's root; refusing to write through it`);
        }
        const targetParts = [...cur.rel];
        for (const piece of target.split('/')) {
          if (piece === '' || piece === '.') continue;
          if (piece === '..') {
            if (targetParts.length === 0) {
              throw refuse(entry, `"${shown}" is a symlink to ${target}, which leaves the layer's root; refusing to write through it`);
            }
            targetParts.pop();
          } else {
            targetParts.push(piece);
          }
        }
        // The target is looked up from the root with the same rules, sharing the budget.
        const resolved = this.walk(targetParts, create, entry, budget);
        if (!resolved) return undefined;
        cur = resolved;
      } else {
        throw refuse(entry, `"${shown}" is not a directory`);
      }
      this.cache.set(shown, cur);
    }
    return cur;
  }
}

/** The InvalidArgument for a tar entry refused for safety; names the entry. */
export function refuse(entry: string, problem: string): InvalidArgument {
  return new InvalidArgument(`invalid tar entry ${JSON.stringify(entry)}: ${problem}`);
}
