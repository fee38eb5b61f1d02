import * as path from 'node:path';
import type { TarEntryHeader } from '../tar/entry.js';
import { checkSymlinkTarget, entryParts, opaqueMarker, whiteoutMetaPrefix, whiteoutPrefix, whiteoutTarget } from './entry-name.js';
import { RootResolver, refuse, type TreeView } from './root-resolver.js';

/** Options of `LayerChecker`. */
export interface LayerCheckOptions {
  /** Device nodes allowed (default true, as `applyLayer`'s default). */
  allowDevices?: boolean;
  /** `.wh.` entries are whiteouts (default true). */
  whiteouts?: boolean;
}

type Node = { kind: 'directory' } | { kind: 'symlink'; target: string } | { kind: 'other' };

/**
 * Decides, without unpacking, whether `applyLayer` would accept a layer unpacked onto
 * an empty root (a base layer: what `docker import` makes), entry by entry in tar order.
 * It keeps an in-memory model of the tree the layer builds (directories, symlinks with
 * their targets, other files) and resolves every name through it with the same
 * `RootResolver` rules `applyLayer` applies to the real tree: `..`, over-long names,
 * writing through a symlink that leaves the root, a file in the middle of a path,
 * symlink loops, a hardlink to something missing or to a directory, unnameable
 * whiteouts, devices when not allowed. So `import` refuses at import a layer that could
 * never be run, instead of storing it and failing at the first `run`.
 *
 * Lifecycle: one checker per layer; `check` each entry's header as the tar is read.
 * Memory: one map entry per path of the layer.
 */
export class LayerChecker {
  private readonly nodes = new Map<string, Node>();
  private readonly resolver: RootResolver;
  private readonly allowDevices: boolean;
  private readonly whiteouts: boolean;

  constructor(options: LayerCheckOptions = {}) {
    this.allowDevices = options.allowDevices ?? true;
    this.whiteouts = options.whiteouts ?? true;
    const nodes = this.nodes;
    const view: TreeView = {
      kind: (abs) => (abs === '/' ? 'directory' : nodes.get(abs)?.kind),
      readlink: (abs) => (nodes.get(abs) as { target: string }).target,
      mkdir: (abs) => nodes.set(abs, { kind: 'directory' }),
    };
    this.resolver = new RootResolver('/', view);
  }

  /** Check one entry and apply it to the model; an InvalidArgument naming the entry when `applyLayer` would refuse it. */
  check(entry: TarEntryHeader): void {
    const parts = entryParts(entry.path, entry.path);
    const base = parts[parts.length - 1];
    if (base === undefined) {
      if (entry.type !== 'directory') throw refuse(entry.path, 'only a directory may name the root');
      return;
    }
    if (this.whiteouts && base.startsWith(whiteoutPrefix)) {
      const parent = this.resolver.dir(parts.slice(0, -1), false, entry.path);
      // An opaque marker on a base layer empties nothing: everything there is this layer's.
      if (parent === undefined || base === opaqueMarker || base.startsWith(whiteoutMetaPrefix)) return;
      this.remove(path.posix.join(parent.abs, whiteoutTarget(base, entry.path)));
      return;
    }
    const parent = this.resolver.dir(parts.slice(0, -1), true, entry.path)!;
    const abs = path.posix.join(parent.abs, base);
    if (entry.type === 'hardlink') {
      const target = this.hardlinkTarget(entry);
      if (target === abs) return;
    }
    if (entry.type === 'symlink') checkSymlinkTarget(entry.linkpath!, entry.path);
    if ((entry.type === 'char-device' || entry.type === 'block-device') && !this.allowDevices) {
      throw refuse(entry.path, 'device nodes are not allowed in this layer');
    }
    const existing = this.nodes.get(abs);
    if (existing !== undefined && !(existing.kind === 'directory' && entry.type === 'directory')) this.remove(abs);
    if (entry.type === 'directory') this.nodes.set(abs, { kind: 'directory' });
    else if (entry.type === 'symlink') this.nodes.set(abs, { kind: 'symlink', target: entry.linkpath! });
    else this.nodes.set(abs, { kind: 'other' });
  }

  private hardlinkTarget(entry: TarEntryHeader): string {
    const targetParts = entryParts(entry.linkpath!, entry.path);
    const name = targetParts.pop();
    if (name === undefined) throw refuse(entry.path, 'hardlink to the root');
    const dir = this.resolver.dir(targetParts, false, entry.path);
    const target = dir && path.posix.join(dir.abs, name);
    const node = target === undefined ? undefined : this.nodes.get(target);
    if (target === undefined || node === undefined) {
      throw refuse(entry.path, `hardlink target ${JSON.stringify(entry.linkpath)} does not exist`);
    }
    if (node.kind === 'directory') throw refuse(entry.path, `hardlink target ${JSON.stringify(entry.linkpath)} is a directory`);
    return target;
  }

  /** Drop `abs` and everything under it from the model. */
  private remove(abs: string): void {
    const node = this.nodes.get(abs);
    if (node === undefined) return;
    this.nodes.delete(abs);
    if (node.kind === 'directory') {
      const prefix = `${abs}/`;
      for (const key of this.nodes.keys()) if (key.startsWith(prefix)) this.nodes.delete(key);
    }
    if (node.kind !== 'other') this.resolver.invalidate();
  }
}
