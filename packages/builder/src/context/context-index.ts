import { createHash, type Hash, hash as oneShotHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { InvalidArgument } from '@berth/core';
import { readTar, type TarEntryType } from '@berth/image';
import { cleanPath } from './clean-path.js';
import type { ContentHashCache } from './content-hash.js';
import type { TreeFs } from './copy-plan.js';
import type { TarSpool } from './tar-spool.js';

/** Where an index's tree seems to be: no such directory exists; only `ContextIndex` reads paths under it. */
export const indexRoot = '/.berth-context-index';

/** A made-up device number for the index's files, so their hash-cache keys never meet a real file's. */
const indexDevice = 0x7fff_fff0;

const typeBits: Record<TarEntryType, number> = {
  file: 0o100000,
  directory: 0o040000,
  symlink: 0o120000,
  hardlink: 0o100000,
  'char-device': 0o020000,
  'block-device': 0o060000,
  fifo: 0o010000,
};

interface IndexNode {
  kind: 'file' | 'directory' | 'symlink' | 'fifo';
  mode: number;
  size: number;
  mtimeMs: number;
  ino: number;
  nlink: number;
  link?: string;
  /** Hex sha256 of a file's content. */
  digest?: string;
  capability?: string;
  /** Its `lstat` answer, made on first use. */
  stats?: Stats;
}

/** What `ContextIndex.read` keeps besides the index: the bytes of the files asked for (the Dockerfile, the ignore files). */
export interface IndexedTar {
  index: ContextIndex;
  kept: Map<string, Buffer>;
}

/**
 * A build context known from its tar alone: each entry's kind, mode, size, mtime, link
 * target, `security.capability` and, for a file, the sha256 of its content, hashed as
 * the tar went by. `planCopy` reads it through `TreeFs` (paths under `indexRoot`) and
 * `hashCopyPlan` finds every file's digest already in the build's `ContentHashCache`,
 * so a COPY's cache key needs no file of the context on disk: a fully cached build never
 * unpacks its context (one sequential write of the tar instead of a file per entry).
 *
 * Names are cleaned as the unpacking would (`./a` is `a`); a name that leaves the
 * context, a device node, or a hard link to nothing are refused, as `unpackArchive`
 * refuses them; missing parent directories are there (0755), as unpacking makes them.
 */
export class ContextIndex implements TreeFs {
  private readonly nodes = new Map<string, IndexNode>([['', { kind: 'directory', mode: 0o755, size: 0, mtimeMs: 0, ino: 1, nlink: 1 }]]);
  private readonly children = new Map<string, Set<string>>([['', new Set()]]);
  private nextIno = 2;

  /**
   * Index the (uncompressed) tar `source`, its bytes kept as they pass in `spool` (for
   * unpacking later, on a cache miss; none: they are kept already), and keeping the
   * content of the files whose cleaned names `keep` accepts. InvalidArgument for a tar
   * `unpackArchive` would refuse.
   */
  static async read(source: AsyncIterable<Buffer>, spool: TarSpool | undefined, keep: (name: string) => boolean): Promise<IndexedTar> {
    const index = new ContextIndex();
    const kept = new Map<string, Buffer>();
    try {
      async function* tee(): AsyncGenerator<Buffer> {
        for await (const chunk of source) {
          await spool?.write(chunk);
          yield chunk;
        }
      }
      for await (const entry of readTar(tee())) {
        const name = cleanName(entry.path);
        if (name === '') {
          await drain(entry.body);
          continue;
        }
        if (entry.type === 'char-device' || entry.type === 'block-device') {
          throw new InvalidArgument(`the build context: ${entry.path}: a device node has no place in a build context`);
        }
        const capability = entry.xattrs.get('security.capability');
        const base = { mode: entry.mode & 0o7777, mtimeMs: Math.floor(entry.mtime.getTime() / 1000) * 1000 };
        if (entry.type === 'file') {
          // A small file's body is one piece of one chunk: hashed in one call, without a
          // Hash object (1,000 of those were about 4 ms of a cached rebuild, and garbage).
          let hash: Hash | undefined;
          let only: Buffer | undefined;
          const chunks: Buffer[] = [];
          const keepIt = keep(name);
          for await (const chunk of entry.body) {
            if (hash === undefined && only === undefined) only = chunk;
            else {
              hash ??= createHash('sha256').update(only!);
              hash.update(chunk);
            }
            if (keepIt) chunks.push(chunk);
          }
          if (keepIt) kept.set(name, Buffer.concat(chunks));
          const digest = hash ? hash.digest('hex') : oneShotHash('sha256', only ?? emptyBody, 'hex');
          index.put(name, {
            kind: 'file',
            ...base,
            size: entry.size,
            digest,
            ...(capability ? { capability: capability.toString('base64') } : {}),
          });
        } else {
          await drain(entry.body);
          if (entry.type === 'directory') index.put(name, { kind: 'directory', ...base, size: 0 });
          else if (entry.type === 'symlink') index.put(name, { kind: 'symlink', ...base, size: 0, link: entry.linkpath ?? '' });
          else if (entry.type === 'fifo') index.put(name, { kind: 'fifo', ...base, size: 0 });
          else index.link(name, cleanName(entry.linkpath ?? ''), entry.path);
        }
      }
    } catch (err) {
      if (err instanceof InvalidArgument || (err as { code?: string }).code === 'InvalidArgument') throw err;
      throw new InvalidArgument(`the build context: ${(err as Error).message}`, { cause: err });
    } finally {
      await spool?.end();
    }
    return { index, kept };
  }

  /** Give the build's hash cache every file's digest, so hashing a plan of the index reads nothing. */
  seed(cache: ContentHashCache): void {
    for (const node of this.nodes.values()) {
      if (node.kind === 'file' && node.digest)
        cache.remember({ dev: indexDevice, ino: node.ino, size: node.size, mtimeMs: node.mtimeMs }, node.digest);
    }
  }

  /** How many entries it holds (directories made for missing parents included). */
  get size(): number {
    return this.nodes.size;
  }

  /** Whether `name` (cleaned, relative) is a regular file of the context. */
  isFile(name: string): boolean {
    return this.nodes.get(cleanName(name))?.kind === 'file';
  }

  lstat(hostPath: string): Stats {
    const node = this.nodes.get(this.relOf(hostPath));
    if (!node) throw Object.assign(new Error(`ENOENT: no such file or directory, lstat '${hostPath}'`), { code: 'ENOENT' });
    // Made once per node (a node changes only while the tar is read, before any lstat).
    node.stats ??= statsOf(node);
    return node.stats;
  }

  readdir(hostPath: string): string[] {
    const rel = this.relOf(hostPath);
    const kids = this.children.get(rel);
    if (!kids)
      throw Object.assign(new Error(`ENOTDIR: not a directory, scandir '${hostPath}'`), {
        code: this.nodes.has(rel) ? 'ENOTDIR' : 'ENOENT',
      });
    return [...kids];
  }

  readlink(hostPath: string): string {
    const node = this.nodes.get(this.relOf(hostPath));
    if (node?.kind !== 'symlink') throw Object.assign(new Error(`EINVAL: invalid argument, readlink '${hostPath}'`), { code: 'EINVAL' });
    return node.link ?? '';
  }

  capability(hostPath: string): string | undefined {
    return this.nodes.get(this.relOf(hostPath))?.capability;
  }

  private relOf(hostPath: string): string {
    if (hostPath === indexRoot) return '';
    if (!hostPath.startsWith(`${indexRoot}/`))
      throw Object.assign(new Error(`ENOENT: ${hostPath} is not in the context`), { code: 'ENOENT' });
    return hostPath.slice(indexRoot.length + 1);
  }

  private put(name: string, node: Omit<IndexNode, 'ino' | 'nlink'>): void {
    this.parents(name);
    const existing = this.nodes.get(name);
    // A later entry of the same name replaces the earlier one, as unpacking does (a directory stays one).
    if (existing?.kind === 'directory' && node.kind === 'directory') {
      Object.assign(existing, { mode: node.mode, mtimeMs: node.mtimeMs, stats: undefined });
      return;
    }
    if (existing?.kind === 'directory') this.removeTree(name);
    this.nodes.set(name, { ...node, ino: this.nextIno++, nlink: 1 });
    if (node.kind === 'directory') this.children.set(name, new Set());
    this.children.get(dirOf(name))!.add(baseOf(name));
  }

  /** A hard link: the same inode as its target, one more link to it. */
  private link(name: string, target: string, raw: string): void {
    const node = this.nodes.get(target);
    if (!node || node.kind === 'directory') throw new InvalidArgument(`the build context: ${raw}: a hard link to a missing file`);
    this.parents(name);
    node.nlink++;
    node.stats = undefined;
    this.nodes.set(name, node);
    this.children.get(dirOf(name))!.add(baseOf(name));
  }

  private parents(name: string): void {
    const dir = dirOf(name);
    if (dir === '' || this.nodes.get(dir)?.kind === 'directory') return;
    if (this.nodes.has(dir)) throw new InvalidArgument(`the build context: ${name}: its parent is not a directory`);
    this.put(dir, { kind: 'directory', mode: 0o755, size: 0, mtimeMs: 0 });
  }

  private removeTree(name: string): void {
    for (const kid of this.children.get(name) ?? []) this.removeTree(name === '' ? kid : `${name}/${kid}`);
    this.children.delete(name);
    this.nodes.delete(name);
  }
}

const emptyBody = Buffer.alloc(0);

async function drain(body: AsyncIterable<Buffer>): Promise<void> {
  for await (const chunk of body) void chunk;
}

/** A tar name as a path relative to the context's root; one that leaves it is refused. */
function cleanName(raw: string): string {
  const cleaned = cleanPath(raw.replace(/^\/+/, '').replace(/\/+$/, ''));
  if (cleaned === '.' || cleaned === '') return '';
  if (cleaned === '..' || cleaned.startsWith('../')) throw new InvalidArgument(`the build context: ${raw}: a name that leaves the context`);
  return cleaned;
}

function dirOf(name: string): string {
  const slash = name.lastIndexOf('/');
  return slash < 0 ? '' : name.slice(0, slash);
}

function baseOf(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/** The fields and predicates of fs.Stats `planCopy` reads. */
function statsOf(node: IndexNode): Stats {
  const type = node.kind === 'file' ? 'file' : node.kind;
  const stats = {
    mode: typeBits[type] | node.mode,
    size: node.size,
    mtimeMs: node.mtimeMs,
    dev: indexDevice,
    ino: node.ino,
    nlink: node.nlink,
    rdev: 0,
    isFile: () => node.kind === 'file',
    isDirectory: () => node.kind === 'directory',
    isSymbolicLink: () => node.kind === 'symlink',
    isFIFO: () => node.kind === 'fifo',
    isCharacterDevice: () => false,
    isBlockDevice: () => false,
    isSocket: () => false,
  };
  return stats as unknown as Stats;
}
