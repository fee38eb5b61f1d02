import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type CommitOptions,
  type ContainerChangeEntry,
  type ContainerConfig,
  type ContainerFilesystemsApi,
  type ContainerPathStat,
  type EventBus,
  EventBusToken,
  InvalidArgument,
  inject,
  injectable,
  type MountSpec,
  NotFound,
  type PutArchiveOptions,
  type StorageDriver,
  StorageDriverToken,
  token,
} from '@berth/core';
import { applyLayer, commitImage, type ContainerConfig as ImageContainerConfig, type ImageStore, writeTar } from '@berth/image';
import { isMountPoint, mountAll, resolveInRoot, unmountAll } from '@berth/native';
import { containerEventAttributes } from '../containers/container-events.js';
import { type ContainerLifecycle, ContainerLifecycleToken } from '../containers/container-lifecycle.js';
import { type ContainerLocks, ContainerLocksToken } from '../containers/container-locks.js';
import { type ContainerPaths, ContainerPathsToken } from '../containers/container-paths.js';
import type { ContainerRecord } from '../containers/container-record.js';
import { ImageStoreToken } from '../images/image-store-token.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { changeEntries, treeEntries } from './tree-tar.js';

const changeKinds = { modified: 0, added: 1, deleted: 2 } as const;

/** Go's os.FileMode type bits, as the docker CLI reads `mode` in a path stat. */
const goMode = {
  dir: 2 ** 31,
  symlink: 2 ** 27,
  device: 2 ** 26,
  namedPipe: 2 ** 25,
  socket: 2 ** 24,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
};

/**
 * A container's filesystem as `docker diff`, `export`, `commit` and `cp` see it. Owns no
 * state: the changes come from the storage driver (`StorageDriver.changes`), the files
 * through the container's own root mount. A running (or created) container's root is
 * mounted already; a stopped one's is mounted on its usual mount point for the
 * operation — read-only unless it writes — and unmounted after. Every operation runs
 * under the container's lock, so it cannot start, exit or go meanwhile (an export holds
 * it until its stream ends). Paths from the client are resolved inside the root with
 * openat2(RESOLVE_IN_ROOT): nothing a container holds can send them to the host.
 */
@injectable()
export class ContainerFilesystems implements ContainerFilesystemsApi {
  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(StorageDriverToken) private readonly storage: StorageDriver,
    @inject(ContainerPathsToken) private readonly paths: ContainerPaths,
    @inject(ContainerLocksToken) private readonly locks: ContainerLocks,
    @inject(ContainerLifecycleToken) private readonly lifecycle: ContainerLifecycle,
    @inject(ImageStoreToken) private readonly images: ImageStore,
    @inject(EventBusToken) private readonly events: EventBus,
  ) {}

  async changes(ref: string): Promise<ContainerChangeEntry[]> {
    const record = this.store.get(ref);
    const changes = await this.locks.run(record.id, () => this.storage.changes(record.id));
    return changes.map((c) => ({ Path: c.path, Kind: changeKinds[c.kind] }));
  }

  async export(ref: string): Promise<Readable> {
    const record = this.store.get(ref);
    const tar = await this.streamFromRoot(record, (root) => writeTar(treeEntries(root, '', '')));
    this.events.publish('container', 'export', record.id, containerEventAttributes(record));
    return tar;
  }

  /**
   * The layer tar is made from the changes and the mounted root, then stored through
   * @berth/image (commitImage). A running container is paused meanwhile unless
   * `pause: false`, so the layer is one moment of it.
   */
  async commit(ref: string, options: CommitOptions): Promise<string> {
    const record = this.store.get(ref);
    const pause = options.pause !== false && record.state.Running && !record.state.Paused;
    if (pause) await this.lifecycle.pause(record.id);
    try {
      const result = await this.withRoot(record, false, async (root) => {
        const changes = await this.storage.changes(record.id);
        return commitImage(this.images, {
          parent: record.imageId as `sha256:${string}`,
          layer: writeTar(changeEntries(root, changes)),
          config: imageConfigOf(record.config),
          changes: options.changes,
          comment: options.comment,
          author: options.author,
          repo: options.repo,
          tag: options.tag,
          containerId: record.id,
        });
      });
      this.events.publish(
        'container',
        'commit',
        record.id,
        containerEventAttributes(record, { comment: options.comment ?? '', author: options.author ?? '' }),
      );
      return result.id;
    } finally {
      if (pause) await this.lifecycle.unpause(record.id);
    }
  }

  async statPath(ref: string, containerPath: string): Promise<ContainerPathStat> {
    const record = this.store.get(ref);
    return this.withRoot(record, false, async (root) => (await this.locate(record, root, containerPath)).stat);
  }

  async getArchive(ref: string, containerPath: string): Promise<{ stat: ContainerPathStat; tar: Readable }> {
    const record = this.store.get(ref);
    let stat: ContainerPathStat | undefined;
    const tar = await this.streamFromRoot(record, async (root) => {
      const found = await this.locate(record, root, containerPath);
      stat = found.stat;
      return writeTar(treeEntries(root, found.rel, found.stat.name));
    });
    this.events.publish('container', 'archive-path', record.id, containerEventAttributes(record, { path: containerPath }));
    return { stat: stat!, tar };
  }

  async putArchive(ref: string, containerPath: string, tar: Readable, options: PutArchiveOptions = {}): Promise<void> {
    const record = this.store.get(ref);
    await this.withRoot(record, true, async (root) => {
      const found = await this.locate(record, root, containerPath, true);
      if (!(found.stat.mode & goMode.dir)) throw new InvalidArgument(`extraction point is not a directory: ${containerPath}`);
      // The directory is the unpacking's root: `..`, absolute links and links that climb out are refused.
      await applyLayer(path.join(root, found.rel), tar, { whiteouts: false, sameOwner: options.copyUIDGID === true });
    });
    this.events.publish('container', 'extract-to-dir', record.id, containerEventAttributes(record, { path: containerPath }));
  }

  /**
   * Where `containerPath` is inside `root`: every component but the last resolved inside
   * the root (symlinks and `..` cannot leave it), the last one not followed, so a symlink
   * is reported as itself with the path it leads to inside the container.
   * `follow`: the last component too (an extraction point).
   */
  private async locate(
    record: ContainerRecord,
    rootPath: string,
    containerPath: string,
    follow = false,
  ): Promise<{ rel: string; stat: ContainerPathStat }> {
    const root = await fs.realpath(rootPath);
    const wanted = path.posix.normalize(`/${containerPath}`);
    const notFound = () => new NotFound(`Could not find the file ${containerPath} in container ${record.name}`);
    const inside = (host: string) => path.relative(root, host);
    let host: string;
    try {
      const name = path.posix.basename(wanted);
      host = follow || name === '' ? resolveInRoot(root, wanted) : path.join(resolveInRoot(root, path.posix.dirname(wanted)), name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') throw notFound();
      throw err;
    }
    const st = await fs.lstat(host).catch(() => undefined);
    if (!st) throw notFound();
    let linkTarget = '';
    if (st.isSymbolicLink()) {
      try {
        linkTarget = `/${inside(resolveInRoot(root, wanted))}`;
      } catch {
        linkTarget = await fs.readlink(host);
      }
    }
    let mode = st.mode & 0o777;
    if (st.isDirectory()) mode += goMode.dir;
    else if (st.isSymbolicLink()) mode += goMode.symlink;
    else if (st.isCharacterDevice()) mode += goMode.device + goMode.charDevice;
    else if (st.isBlockDevice()) mode += goMode.device;
    else if (st.isFIFO()) mode += goMode.namedPipe;
    else if (st.isSocket()) mode += goMode.socket;
    if (st.mode & 0o4000) mode += goMode.setuid;
    if (st.mode & 0o2000) mode += goMode.setgid;
    if (st.mode & 0o1000) mode += goMode.sticky;
    const name = path.posix.basename(wanted) || '/';
    return { rel: inside(host), stat: { name, size: st.size, mode, mtime: st.mtime.toISOString(), linkTarget } };
  }

  /** Run `fn` on the container's mounted root under its lock, mounting (and then unmounting) a stopped container's. */
  private withRoot<T>(record: ContainerRecord, writable: boolean, fn: (root: string) => Promise<T>): Promise<T> {
    return this.locks.run(record.id, async () => {
      this.store.get(record.id);
      const rootfs = this.paths.rootfs(record.id);
      if (isMountPoint(rootfs)) return fn(rootfs);
      const mounts = await this.storage.mounts(record.id);
      mountAll(writable ? mounts : readOnly(mounts), rootfs);
      try {
        return await fn(rootfs);
      } finally {
        unmountAll(rootfs);
      }
    });
  }

  /**
   * A stream made from the mounted root, resolved once it is made: the root stays
   * mounted and the lock held until the stream has ended or its reader went away.
   */
  private streamFromRoot(record: ContainerRecord, make: (root: string) => Promise<Readable> | Readable): Promise<Readable> {
    return new Promise<Readable>((resolve, reject) => {
      this.withRoot(record, false, async (root) => {
        const source = await make(root);
        const out = new PassThrough();
        resolve(out);
        await pipeline(source, out).catch(() => undefined);
      }).catch(reject);
    });
  }
}

/** What an image keeps of a container's config (dockerd's commit keeps the same fields). */
const imageConfigFields = [
  'User',
  'ExposedPorts',
  'Env',
  'Entrypoint',
  'Cmd',
  'Volumes',
  'WorkingDir',
  'Labels',
  'StopSignal',
  'Healthcheck',
  'OnBuild',
  'Shell',
];

function imageConfigOf(config: ContainerConfig): ImageContainerConfig {
  const picked: Record<string, unknown> = {};
  for (const field of imageConfigFields) {
    const value = (config as Record<string, unknown>)[field];
    if (value !== undefined) picked[field] = structuredClone(value);
  }
  return picked as ImageContainerConfig;
}

/** The same mounts, read-only. */
function readOnly(mounts: MountSpec[]): MountSpec[] {
  return mounts.map((m) => ({ ...m, options: [...m.options.filter((o) => o !== 'rw'), 'ro'] }));
}

export const ContainerFilesystemsToken = token<ContainerFilesystemsApi>('ContainerFilesystems');
