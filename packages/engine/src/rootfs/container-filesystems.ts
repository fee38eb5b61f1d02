import { closeSync, constants, fstatSync, readlinkSync } from 'node:fs';
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
  NotFound,
  type PutArchiveOptions,
  token,
} from '@berth/core';
import { commitImage, type ContainerConfig as ImageContainerConfig, type ImageStore, writeTar } from '@berth/image';
import { AT, O_PATH, openAt, RESOLVE, readlinkAt, statAt } from '@berth/native';
import { containerEventAttributes } from '../containers/container-events.js';
import { type ContainerLifecycle, ContainerLifecycleToken } from '../containers/container-lifecycle.js';
import { type ContainerLocks, ContainerLocksToken } from '../containers/container-locks.js';
import type { ContainerRecord } from '../containers/container-record.js';
import { ImageStoreToken } from '../images/image-store-token.js';
import { type ContainerStore, ContainerStoreToken } from '../state/container-store.js';
import { type ContainerRoots, ContainerRootsToken, type OpenRoot } from './container-roots.js';
import { extractTarAt } from './extract-tar-at.js';
import { type SnapshotDiffer, SnapshotDifferToken } from './snapshot-differ.js';
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
 * state: the changes come from the differ (`SnapshotDiffer`), the files
 * through the container's own root mount. A running (or created) container's root is
 * mounted already; a stopped one's is mounted on its usual mount point for the
 * operation — read-only unless it writes — and unmounted after (ContainerRoots). Every operation runs
 * under the container's lock, so it cannot start, exit or go meanwhile (an export holds
 * it until its stream ends). Paths from the client are resolved inside the root with
 * openat2(RESOLVE_IN_ROOT), and every later step of a copy (each directory walked, each
 * file read or written) is relative to a descriptor resolved beneath it (tree-tar.ts,
 * extract-tar-at.ts): nothing a container holds or changes meanwhile can send them to the host.
 */
@injectable()
export class ContainerFilesystems implements ContainerFilesystemsApi {
  constructor(
    @inject(ContainerStoreToken) private readonly store: ContainerStore,
    @inject(SnapshotDifferToken) private readonly differ: SnapshotDiffer,
    @inject(ContainerLocksToken) private readonly locks: ContainerLocks,
    @inject(ContainerRootsToken) private readonly roots: ContainerRoots,
    @inject(ContainerLifecycleToken) private readonly lifecycle: ContainerLifecycle,
    @inject(ImageStoreToken) private readonly images: ImageStore,
    @inject(EventBusToken) private readonly events: EventBus,
  ) {}

  async changes(ref: string): Promise<ContainerChangeEntry[]> {
    const record = this.store.get(ref);
    const changes = await this.locks.run(record.id, () => this.differ.changes(record.id));
    return changes.map((c) => ({ Path: c.path, Kind: changeKinds[c.kind] }));
  }

  async export(ref: string): Promise<Readable> {
    const record = this.store.get(ref);
    const tar = await this.streamFromRoot(record, (root) => writeTar(treeEntries(root.fd, '.', '')));
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
      const result = await this.roots.withRoot(record, false, async (root) => {
        const changes = await this.differ.changes(record.id);
        return commitImage(this.images, {
          parent: record.imageId as `sha256:${string}`,
          layer: writeTar(changeEntries(root.fd, changes)),
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
    return this.roots.withRoot(record, false, async (root) => {
      const found = this.locate(record, root, containerPath);
      closeSync(found.dirfd);
      return found.stat;
    });
  }

  async getArchive(ref: string, containerPath: string): Promise<{ stat: ContainerPathStat; tar: Readable }> {
    const record = this.store.get(ref);
    let stat: ContainerPathStat | undefined;
    const tar = await this.streamFromRoot(record, (root) => {
      const found = this.locate(record, root, containerPath);
      root.hold(found.dirfd);
      stat = found.stat;
      return writeTar(treeEntries(found.dirfd, found.name, found.stat.name));
    });
    this.events.publish('container', 'archive-path', record.id, containerEventAttributes(record, { path: containerPath }));
    return { stat: stat!, tar };
  }

  async putArchive(ref: string, containerPath: string, tar: Readable, options: PutArchiveOptions = {}): Promise<void> {
    const record = this.store.get(ref);
    await this.roots.withRoot(record, true, async (root) => {
      // The extraction point, followed inside the root (a symlink to /etc is the container's /etc).
      const dirfd = this.openInRoot(record, root, containerPath, O_PATH);
      try {
        if (!fstatSync(dirfd).isDirectory()) throw new InvalidArgument(`extraction point is not a directory: ${containerPath}`);
        // The directory is the unpacking's root: `..`, absolute links and links that climb out are refused.
        await extractTarAt(dirfd, tar, {
          sameOwner: options.copyUIDGID === true,
          noOverwriteDirNonDir: options.noOverwriteDirNonDir === true,
        });
      } finally {
        closeSync(dirfd);
      }
    });
    this.events.publish('container', 'extract-to-dir', record.id, containerEventAttributes(record, { path: containerPath }));
  }

  /**
   * Where `containerPath` is inside the root: its directory resolved inside the root
   * (symlinks and `..` cannot leave it) and held open, its last component not followed,
   * so a symlink is reported as itself with the path it leads to inside the container.
   * The caller closes `dirfd`; `name` is the last component ('.' for the root itself).
   */
  private locate(record: ContainerRecord, root: OpenRoot, containerPath: string): { dirfd: number; name: string; stat: ContainerPathStat } {
    const wanted = path.posix.normalize(`/${containerPath}`);
    const base = path.posix.basename(wanted);
    const name = base === '' ? '.' : base;
    const dirfd = this.openInRoot(record, root, path.posix.dirname(wanted), O_PATH | constants.O_DIRECTORY);
    try {
      let st: ReturnType<typeof statAt>;
      try {
        st = statAt(dirfd, name, AT.SYMLINK_NOFOLLOW);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw this.notFound(record, containerPath);
        throw err;
      }
      const type = st.mode & constants.S_IFMT;
      let linkTarget = '';
      if (type === constants.S_IFLNK) {
        try {
          // Where it leads inside the root: the descriptor's own name, read, never walked.
          const fd = openAt(root.fd, wanted, O_PATH, { resolve: RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS });
          try {
            linkTarget = `/${path.relative(root.hostPath, readlinkSync(`/proc/self/fd/${fd}`))}`;
          } finally {
            closeSync(fd);
          }
        } catch {
          linkTarget = readlinkAt(dirfd, name);
        }
      }
      let mode = st.mode & 0o777;
      if (type === constants.S_IFDIR) mode += goMode.dir;
      else if (type === constants.S_IFLNK) mode += goMode.symlink;
      else if (type === constants.S_IFCHR) mode += goMode.device + goMode.charDevice;
      else if (type === constants.S_IFBLK) mode += goMode.device;
      else if (type === constants.S_IFIFO) mode += goMode.namedPipe;
      else if (type === constants.S_IFSOCK) mode += goMode.socket;
      if (st.mode & 0o4000) mode += goMode.setuid;
      if (st.mode & 0o2000) mode += goMode.setgid;
      if (st.mode & 0o1000) mode += goMode.sticky;
      const stat = { name: base || '/', size: st.size, mode, mtime: new Date(st.mtimeMs).toISOString(), linkTarget };
      return { dirfd, name, stat };
    } catch (err) {
      closeSync(dirfd);
      throw err;
    }
  }

  /** openat2 of `containerPath` inside the root (RESOLVE_IN_ROOT); a missing path is the client's NotFound. */
  private openInRoot(record: ContainerRecord, root: OpenRoot, containerPath: string, flags: number): number {
    try {
      return openAt(root.fd, path.posix.normalize(`/${containerPath}`), flags, { resolve: RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw this.notFound(record, containerPath);
      throw err;
    }
  }

  private notFound(record: ContainerRecord, containerPath: string): NotFound {
    return new NotFound(`Could not find the file ${containerPath} in container ${record.name}`);
  }

  /**
   * A stream made from the mounted root, resolved once it is made: the root stays
   * mounted and the lock held until the stream has ended or its reader went away.
   */
  private streamFromRoot(record: ContainerRecord, make: (root: OpenRoot) => Promise<Readable> | Readable): Promise<Readable> {
    return new Promise<Readable>((resolve, reject) => {
      this.roots
        .withRoot(record, false, async (root) => {
          const source = await make(root);
          const out = new PassThrough();
          resolve(out);
          await pipeline(source, out).catch(() => undefined);
        })
        .catch(reject);
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

export const ContainerFilesystemsToken = token<ContainerFilesystemsApi>('ContainerFilesystems');
