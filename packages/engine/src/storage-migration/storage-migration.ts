import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type AnyPluginManifest,
  Conflict,
  EventBus,
  InvalidArgument,
  isBerthError,
  isPluginSkipped,
  type Logger,
  type MountSpec,
  NotFound,
  ownerLabels,
  type PrepareOptions,
  readOnlyMounts,
  requiredPlugins,
  type SnapshotInfo,
  SnapshotLabels,
  type StorageDriver,
  silentLogger,
  snapshotChanges,
  writeJsonAtomic,
} from '@berth/core';
import { applyLayer, type Digest, type ImageRecord, ImageStore, writeTar } from '@berth/image';
import { setXattr, unmountAll } from '@berth/native';
import type { ContainerRecord } from '../containers/container-record.js';
import { storageSizeBytes } from '../oci/unsupported-settings.js';
import { OpenRoot } from '../rootfs/container-roots.js';
import { applyTarXattrs } from '../rootfs/tar-xattrs.js';
import { changeEntries } from '../rootfs/tree-tar.js';
import { containerRecordSchema, migrateRecord } from '../state/record-schema.js';
import {
  type MigrationJournal,
  migrationDir,
  readMigrationJournal,
  removeMigrationJournal,
  writeMigrationJournal,
} from './migration-journal.js';
import { MigrationLock } from './migration-lock.js';
import { MigrationMounts } from './migration-mounts.js';

/** What `migrateStorage` needs: the data root and the plugins berthd would offer. */
export interface StorageMigrationOptions {
  dataRoot: string;
  execRoot: string;
  /** The storage driver to move to; ignored with `abort`. */
  to?: string;
  /** Undo the unfinished migration the journal names instead of running one. */
  abort?: boolean;
  /** The plugins berthd offers (its built-in list and daemon.json's): the storage ones are used. */
  plugins: readonly AnyPluginManifest[];
  /** Per-plugin configuration, keyed `<kind>/<name>`, as berthd's. */
  pluginConfig?: Record<string, Record<string, unknown>>;
  cgroupParent?: string;
  logger?: Logger;
  /** One line per step done, for the operator (and for tests that kill the migration on a step). */
  progress?: (line: string) => void;
  /**
   * Why the data root is in use by a daemon (its pid file names a live berthd), or
   * undefined when it is not. Asked before anything is written and again once the
   * journal is written (a berthd started in between either saw the journal and refused,
   * or is seen here).
   */
  heldBy?: () => Promise<string | undefined>;
}

/** What a migration did. */
export interface StorageMigrationReport {
  from: string;
  to: string;
  /** Layers (chain IDs) put on the target by this run. */
  layers: number;
  /** Stopped containers whose changes this run put on the target. */
  containers: number;
  /** True when the run undid a migration (`abort`). */
  undone: boolean;
}

/**
 * Moves a data root from its storage driver to another, offline: no berthd may hold the
 * data root and no container may run (a running container's root is mounted from the
 * source driver, and a berthd would keep using it). Both are checked, by name.
 *
 * What moves: every layer of every image, made on the target from the image's own layer
 * blob (the content-addressed truth a layer snapshot was made from), the tar's sha256
 * computed as it is applied and checked against the diff ID of the image config (and the
 * chain IDs recomputed from those); and each stopped container's changes, written as a
 * layer tar from the source snapshot (the differ and the tar `docker commit` writes),
 * applied into a snapshot of the container on the target, then read back from the target
 * the same way: the two tars' digests must be equal. Container records then name the new
 * driver; the source driver's snapshots are removed and its directory deleted.
 *
 * Crash safety: `MigrationJournal`'s lifecycle. Every step is idempotent or redone from
 * the journal: a layer is whole or absent on the target (the driver's contract), a
 * container's snapshot is kept only once the journal lists it as checked. Running the
 * same migration again finishes an interrupted one; `abort` undoes one that has not
 * reached the switch. An engine refuses a data root with a journal (refuseWhileMigrating).
 */
export async function migrateStorage(options: StorageMigrationOptions): Promise<StorageMigrationReport> {
  const dataRoot = path.resolve(options.dataRoot);
  const lock = await MigrationLock.acquire(dataRoot);
  try {
    return await migrateLocked(options, dataRoot);
  } catch (err) {
    // A failure past the journal's writing leaves the data root closed to berthd: say how to open it again.
    const left = await readMigrationJournal(dataRoot).catch(() => undefined);
    if (left && err instanceof Error && !err.message.includes('unfinished')) {
      err.message += ` (the migration from ${left.from} to ${left.to} is unfinished: run it again to finish it${left.phase === 'copy' ? ', or undo it with --abort' : ''})`;
    }
    throw err;
  } finally {
    await lock.release();
    // Without a journal nothing of a migration is under way: its directory goes (made for the lock, or left by a kill after the journal's deletion).
    if (!(await readMigrationJournal(dataRoot).catch(() => undefined))) {
      await clearWorkDir(dataRoot);
      await fs.rm(migrationDir(dataRoot), { recursive: true, force: true });
    }
  }
}

/** migrateStorage under the lock. */
async function migrateLocked(options: StorageMigrationOptions, dataRoot: string): Promise<StorageMigrationReport> {
  const progress = options.progress ?? (() => {});
  const log = options.logger ?? silentLogger;
  const storagePlugins = options.plugins.filter((m) => m.kind === 'storage');
  const manifest = (name: string): AnyPluginManifest => {
    const found = storagePlugins.find((m) => m.name === name);
    if (!found)
      throw new InvalidArgument(`unknown storage driver "${name}" (known: ${storagePlugins.map((m) => m.name).join(', ') || 'none'})`);
    return found;
  };
  const open = (m: AnyPluginManifest) => openStorage(m, dataRoot, path.resolve(options.execRoot), options, log);

  const journal = await readMigrationJournal(dataRoot);
  if (options.abort) {
    if (!journal) throw new InvalidArgument(`no storage migration of ${dataRoot} is unfinished: nothing to undo`);
    if (journal.phase !== 'copy') {
      throw new Conflict(
        `the storage migration of ${dataRoot} from ${journal.from} to ${journal.to} is past its switch and cannot be undone: finish it with --to ${journal.to}`,
      );
    }
    await refuseWhenHeld(options);
    const target = await open(manifest(journal.to));
    await discardDriverState(target, dataRoot, path.resolve(options.execRoot), progress);
    await clearWorkDir(dataRoot);
    await removeMigrationJournal(dataRoot);
    progress(`migration from ${journal.from} to ${journal.to} undone`);
    return { from: journal.from, to: journal.to, layers: 0, containers: 0, undone: true };
  }

  const to = options.to;
  if (!to) throw new InvalidArgument('storage migrate needs --to <driver>');
  if (journal && journal.to !== to) {
    throw new Conflict(
      `a storage migration of ${dataRoot} from ${journal.from} to ${journal.to} is unfinished: finish it with --to ${journal.to}${journal.phase === 'copy' ? ' or undo it with --abort' : ''}`,
    );
  }
  const targetManifest = manifest(to);
  const from = journal?.from ?? currentDriver(dataRoot, storagePlugins);
  if (from === to) throw new InvalidArgument(`${dataRoot} already uses the ${to} storage driver: nothing to migrate`);
  const sourceManifest = manifest(from);

  const records = readContainerRecords(dataRoot);
  if (!journal || journal.phase === 'copy') refuseRunningContainers(records);
  await refuseWhenHeld(options);

  const fresh = !journal;
  const state: MigrationJournal = journal ?? { from, to, phase: 'copy', started: new Date().toISOString(), containers: [] };
  if (fresh) {
    await writeMigrationJournal(dataRoot, state);
    progress(`journal written: migrating ${dataRoot} from ${from} to ${to}`);
  }
  let source: StorageDriver | undefined;
  let target: StorageDriver | undefined;
  try {
    try {
      // Again, now that the journal keeps any new berthd out.
      await refuseWhenHeld(options);
      source = await open(sourceManifest);
      target = await open(targetManifest);
      if (state.phase === 'copy') refuseUnenforceableSizes(records, target);
    } catch (err) {
      // Refused before anything was copied: a fresh run leaves nothing behind.
      if (fresh) {
        if (target) await discardDriverState(target, dataRoot, path.resolve(options.execRoot), () => {});
        else await removeDriverDirs(to, dataRoot, path.resolve(options.execRoot));
        await source?.close?.();
        await removeMigrationJournal(dataRoot);
      }
      throw err;
    }
    const work = new MigrationWork(dataRoot, source, target, progress);
    let layers = 0;
    let containers = 0;
    if (state.phase === 'copy') {
      await work.clearLeftovers(new Set(state.containers));
      const images = await ImageStore.open(dataRoot, { log });
      for (const image of await images.list()) layers += await work.copyImage(images, image);
      for (const record of records) {
        if (state.containers.includes(record.id)) continue;
        const image = await images.get(record.imageId).catch(() => undefined);
        if (await work.copyContainer(record, image?.chainIds.at(-1))) containers++;
        state.containers.push(record.id);
        await writeMigrationJournal(dataRoot, state);
      }
      await clearWorkDir(dataRoot);
      state.phase = 'switch';
      await writeMigrationJournal(dataRoot, state);
      progress(`switch: everything is on ${to} and checked; removing ${from}'s state`);
    }
    await work.updateRecords(records);
    await discardDriverState(source, dataRoot, path.resolve(options.execRoot), progress);
    source = undefined;
    await target.close?.();
    target = undefined;
    await clearWorkDir(dataRoot);
    await removeMigrationJournal(dataRoot);
    progress(`migrated ${dataRoot} from ${from} to ${to}`);
    return { from, to, layers, containers, undone: false };
  } finally {
    await source?.close?.().catch(() => undefined);
    await target?.close?.().catch(() => undefined);
  }
}

/** The driver whose state the data root holds (`<data-root>/storage/<name>` not empty): exactly one, or an error saying why not. */
function currentDriver(dataRoot: string, plugins: readonly AnyPluginManifest[]): string {
  const dir = path.join(dataRoot, 'storage');
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => {
      try {
        return readdirSync(path.join(dir, name)).length > 0;
      } catch {
        return false;
      }
    });
  } catch {
    names = [];
  }
  if (names.length === 0) {
    throw new InvalidArgument(
      `${dataRoot} holds no storage driver's state: nothing to migrate (start berthd with --storage-driver instead)`,
    );
  }
  if (names.length > 1) {
    throw new Conflict(`${dataRoot} holds state of several storage drivers (${names.join(', ')}): settle which one it uses first`);
  }
  const known = plugins.map((m) => m.name);
  if (!known.includes(names[0])) {
    throw new InvalidArgument(
      `${dataRoot} holds the state of storage driver "${names[0]}", which no loaded plugin provides (loaded: ${known.join(', ')})`,
    );
  }
  return names[0];
}

/** Every container record of the data root (unreadable ones are an error: a migration must know every container). */
function readContainerRecords(dataRoot: string): ContainerRecord[] {
  const dir = path.join(dataRoot, 'containers');
  let ids: string[];
  try {
    ids = readdirSync(dir);
  } catch {
    return [];
  }
  const records: ContainerRecord[] = [];
  for (const id of ids) {
    let text: string;
    try {
      text = readFileSync(path.join(dir, id, 'container.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw err;
    }
    try {
      records.push(migrateRecord(JSON.parse(text)));
    } catch (err) {
      throw new Conflict(`the record of container ${id} cannot be read (${(err as Error).message}): fix or remove it before migrating`);
    }
  }
  return records;
}

/**
 * Refuses while any container runs, names each: its record says so, or a process still
 * names its id (a shim or runtime of a container whose record a killed berthd left
 * saying otherwise).
 */
function refuseRunningContainers(records: readonly ContainerRecord[]): void {
  const alive = processesNaming(records.map((r) => r.id));
  const running = records.filter((r) => r.state.Running || r.state.Paused || r.state.Restarting || r.pending || alive.has(r.id));
  if (running.length) {
    throw new Conflict(
      `cannot migrate storage while containers run: ${running.map((r) => r.name).join(', ')} (stop them first: their roots are mounted from the current driver)`,
    );
  }
}

/** The ids of `ids` that a live process names on its command line (berth-shim and the runtime name the container's id). */
function processesNaming(ids: readonly string[]): Set<string> {
  const found = new Set<string>();
  if (!ids.length) return found;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    } catch {
      continue;
    }
    for (const id of ids) if (cmdline.includes(id)) found.add(id);
  }
  return found;
}

function refuseUnenforceableSizes(records: readonly ContainerRecord[], target: StorageDriver): void {
  if (target.capabilities.sizeQuota) return;
  const sized = records.filter((r) => r.hostConfig.StorageOpt?.size !== undefined);
  if (sized.length) {
    throw new InvalidArgument(
      `the ${target.name} storage driver cannot enforce --storage-opt size=, which containers ${sized.map((r) => r.name).join(', ')} have: remove them or choose a driver with size quotas`,
    );
  }
}

async function refuseWhenHeld(options: StorageMigrationOptions): Promise<void> {
  const held = await options.heldBy?.();
  if (held) throw new Conflict(`cannot migrate storage while a daemon uses the data root: ${held} (stop it first)`);
}

/** Initialise one storage plugin on the data root, as the engine would (its own root and exec root). */
async function openStorage(
  manifest: AnyPluginManifest,
  dataRoot: string,
  execRoot: string,
  options: StorageMigrationOptions,
  log: Logger,
): Promise<StorageDriver> {
  const key = `${manifest.kind}/${manifest.name}`;
  const root = path.join(dataRoot, manifest.kind, manifest.name);
  const pluginExecRoot = path.join(execRoot, manifest.kind, manifest.name);
  await fs.mkdir(root, { recursive: true, mode: 0o700 });
  await fs.mkdir(pluginExecRoot, { recursive: true, mode: 0o700 });
  try {
    return (await manifest.init({
      root,
      execRoot: pluginExecRoot,
      dataRoot,
      cgroupParent: options.cgroupParent ?? 'berth',
      config: options.pluginConfig?.[key] ?? {},
      events: new EventBus(),
      log: log.child({ plugin: key }),
      plugins: requiredPlugins(key, manifest.requires ?? [], () => undefined),
    })) as StorageDriver;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new InvalidArgument(
      `storage driver ${manifest.name} cannot be used here: ${reason}${isPluginSkipped(err) ? '' : ' (it failed to initialise)'}`,
    );
  }
}

/** Remove every snapshot of a driver, children first, close it, and delete its directories. */
async function discardDriverState(
  driver: StorageDriver,
  dataRoot: string,
  execRoot: string,
  progress: (line: string) => void,
): Promise<void> {
  let snapshots = await driver.walk();
  while (snapshots.length) {
    const parents = new Set(snapshots.map((s) => s.parent).filter((p) => p !== undefined));
    for (const snapshot of snapshots.filter((s) => !parents.has(s.key))) {
      await driver.remove(snapshot.key).catch((err) => {
        if (!isBerthError(err, 'NotFound')) throw err;
      });
      progress(`removed ${driver.name} snapshot ${snapshot.key}`);
    }
    const left = await driver.walk();
    if (left.length >= snapshots.length)
      throw new Conflict(`cannot remove the ${driver.name} snapshots ${left.map((s) => s.key).join(', ')}`);
    snapshots = left;
  }
  await driver.close?.();
  await removeDriverDirs(driver.name, dataRoot, execRoot);
}

/** Delete a storage driver's directories (its root and exec root), once it holds no snapshot or never initialised. */
async function removeDriverDirs(name: string, dataRoot: string, execRoot: string): Promise<void> {
  await fs.rm(path.join(dataRoot, 'storage', name), { recursive: true, force: true });
  await fs.rm(path.join(execRoot, 'storage', name), { recursive: true, force: true });
}

/** Unmount and delete what a migration works in (mount points, change tars), keeping the journal. */
async function clearWorkDir(dataRoot: string): Promise<void> {
  for (const sub of ['mnt', 'changes', 'logs']) {
    const dir = path.join(migrationDir(dataRoot), sub);
    for (const entry of await fs.readdir(dir).catch(() => [] as string[])) {
      const target = path.join(dir, entry);
      unmountAll(target); // never a recursive delete through a mount
      await fs.rm(target, { recursive: true, force: true });
    }
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The copying steps of one migration, between two open drivers. */
class MigrationWork {
  private readonly mnt: string;
  private readonly changesDir: string;
  private readonly mounts: MigrationMounts;

  constructor(
    private readonly dataRoot: string,
    private readonly source: StorageDriver,
    private readonly target: StorageDriver,
    private readonly progress: (line: string) => void,
  ) {
    this.mnt = path.join(migrationDir(dataRoot), 'mnt');
    this.changesDir = path.join(migrationDir(dataRoot), 'changes');
    this.mounts = new MigrationMounts(path.join(migrationDir(dataRoot), 'logs'));
  }

  /**
   * On the target, what a run cut short left: a snapshot that is neither a committed
   * layer nor a container the journal lists as checked goes (an extraction, a view of the
   * differ, a container snapshot half-filled). Committed layers stay: a committed
   * snapshot is whole by the driver's contract.
   */
  async clearLeftovers(checked: ReadonlySet<string>): Promise<void> {
    await clearWorkDir(this.dataRoot);
    for (const snapshot of await this.target.walk()) {
      const owner = snapshot.labels[SnapshotLabels.ownerKind];
      const keep =
        (snapshot.kind === 'committed' && owner === 'image') ||
        (owner === 'container' && snapshot.kind === 'active' && checked.has(snapshot.key));
      if (keep) continue;
      await this.target.remove(snapshot.key).catch((err) => {
        if (!isBerthError(err, 'NotFound')) throw err;
      });
      this.progress(`removed an unfinished ${this.target.name} snapshot ${snapshot.key}`);
    }
  }

  /** Every layer of `image` on the target, each checked against the config's diff ID; returns how many this call made. */
  async copyImage(images: ImageStore, image: ImageRecord): Promise<number> {
    checkChain(image);
    let made = 0;
    for (let i = 0; i < image.chainIds.length; i++) {
      const chainId = image.chainIds[i];
      if (await statOf(this.target, chainId)) continue;
      const layer = image.layers[i];
      const expected = image.config.rootfs.diff_ids[i] as Digest;
      const key = `migrate-${randomBytes(8).toString('hex')}`;
      const mounts = await this.target.prepare(key, i > 0 ? image.chainIds[i - 1] : undefined, {
        labels: ownerLabels('image-extract', chainId),
      });
      try {
        await this.withMounted(mounts, async (dir) => {
          const content = await images.content.get(layer.digest).catch((err) => {
            throw new NotFound(`layer ${layer.digest} of image ${image.id} is missing from the content store: ${(err as Error).message}`);
          });
          await applyLayer(dir, content, { expectedDiffId: expected, setXattr: setLayerXattr });
        });
        await this.target.commit(chainId, key, { labels: ownerLabels('image', chainId) });
      } catch (err) {
        await this.target.remove(key).catch(() => undefined);
        throw new InvalidArgument(
          `layer ${chainId} of image ${image.id} could not be copied to ${this.target.name}: ${(err as Error).message}`,
        );
      }
      made++;
      this.progress(`layer ${chainId} on ${this.target.name}, diff ID ${expected} checked`);
    }
    return made;
  }

  /**
   * A stopped container's changes on the target, checked; false when the source holds no
   * snapshot of it (nothing to copy). A container whose image's layers are gone is refused.
   */
  async copyContainer(record: ContainerRecord, top: string | undefined): Promise<boolean> {
    const info = await statOf(this.source, record.id);
    if (!info) return false;
    // A created container's root stays mounted until it runs (a start mounts it again when
    // it is not): a mount of the source driver's, which must not outlive its state.
    unmountAll(path.join(this.dataRoot, 'containers', record.id, 'rootfs'));
    if (info.parent !== top) {
      throw new Conflict(
        `container ${record.name}'s snapshot on ${this.source.name} is on ${info.parent ?? 'nothing'}, not on its image ${record.imageId}'s top layer ${top ?? '(none)'}`,
      );
    }
    await fs.mkdir(this.changesDir, { recursive: true, mode: 0o700 });
    const spool = path.join(this.changesDir, `${record.id}.tar`);
    const written = await this.changesTar(this.source, record.id, spool);
    const prepare: PrepareOptions = { labels: ownerLabels('container', record.id), volatile: record.hostConfig.AutoRemove === true };
    if (record.hostConfig.StorageOpt?.size !== undefined) prepare.sizeBytes = storageSizeBytes(record.hostConfig.StorageOpt.size);
    const existing = await statOf(this.target, record.id);
    if (existing) await this.target.remove(record.id);
    const mounts = await this.target.prepare(record.id, top, prepare);
    await this.withMounted(mounts, (dir) =>
      applyLayer(dir, createReadStream(spool), { expectedDiffId: written, setXattr: setLayerXattr }).then(() => undefined),
    );
    const readBack = await this.changesTar(this.target, record.id, undefined);
    if (readBack !== written) {
      throw new Conflict(
        `container ${record.name}'s changes read back from ${this.target.name} (${readBack}) differ from those on ${this.source.name} (${written})`,
      );
    }
    await fs.rm(spool, { force: true });
    this.progress(`container ${record.name} on ${this.target.name}, changes ${written} checked`);
    return true;
  }

  /** Container records name the target driver and its mounts (idempotent: run again after a crash). */
  async updateRecords(records: readonly ContainerRecord[]): Promise<void> {
    for (const record of records) {
      const mounts = await this.target.mounts(record.id).catch((err) => {
        if (isBerthError(err, 'NotFound')) return undefined;
        throw err;
      });
      if (record.storageDriver === this.target.name && !mounts) continue;
      const file = path.join(this.dataRoot, 'containers', record.id, 'container.json');
      const updated = { ...record, storageDriver: this.target.name, rootfsMounts: mounts ?? [], schemaVersion: containerRecordSchema };
      await writeJsonAtomic(file, updated);
    }
  }

  /** The layer tar of `key`'s changes (as `docker commit` writes it), its sha256, and a copy in `file` when given. */
  private async changesTar(driver: StorageDriver, key: string, file: string | undefined): Promise<Digest> {
    const mounts = readOnlyMounts(await driver.mounts(key));
    return this.withMounted(mounts, async (dir) => {
      const changes = await snapshotChanges(driver, key, {
        mount: async (m) => {
          const at = path.join(this.mnt, `view-${randomBytes(8).toString('hex')}`);
          await fs.mkdir(at, { recursive: true });
          await this.mounts.mount(m, at);
          return at;
        },
        unmount: async (at) => {
          await this.mounts.unmount(at);
          await fs.rmdir(at);
        },
      });
      const root = await OpenRoot.open(dir);
      try {
        const hash = createHash('sha256');
        const digest = new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            done(null, chunk);
          },
        });
        const sink = file ? createWriteStream(file) : nullSink();
        await pipeline(writeTar(changeEntries(root.fd, changes)), digest, sink);
        if (file) {
          const handle = await fs.open(file, 'r');
          await handle.sync();
          await handle.close();
        }
        return `sha256:${hash.digest('hex')}` as Digest;
      } finally {
        root.close();
      }
    });
  }

  private async withMounted<T>(mounts: MountSpec[], fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = path.join(this.mnt, randomBytes(8).toString('hex'));
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      await this.mounts.mount(mounts, dir);
      try {
        return await fn(dir);
      } finally {
        await this.mounts.unmount(dir);
      }
    } finally {
      await fs.rmdir(dir);
    }
  }
}

/** The image's diff IDs are its config's, and its chain IDs follow from them. */
function checkChain(image: ImageRecord): void {
  const diffIds = image.config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== image.layers.length || image.layers.some((l, i) => l.diffId !== diffIds[i])) {
    throw new Conflict(`image ${image.id}: its layers' diff IDs differ from its config's rootfs.diff_ids`);
  }
  let chain = '';
  diffIds.forEach((diffId, i) => {
    chain = i === 0 ? diffId : `sha256:${createHash('sha256').update(`${chain} ${diffId}`).digest('hex')}`;
    if (image.chainIds[i] !== chain)
      throw new Conflict(`image ${image.id}: chain ID ${i} is ${image.chainIds[i]}, its diff IDs give ${chain}`);
  });
}

async function statOf(driver: StorageDriver, key: string): Promise<SnapshotInfo | undefined> {
  try {
    return await driver.stat(key);
  } catch (err) {
    if (isBerthError(err, 'NotFound')) return undefined;
    throw err;
  }
}

function nullSink(): NodeJS.WritableStream {
  return new Transform({
    transform(_chunk, _enc, done) {
      done();
    },
  }).resume();
}

/** A layer's extended attributes go with its files (applyTarXattrs says which). */
async function setLayerXattr(file: string, name: string, value: Buffer): Promise<void> {
  applyTarXattrs(new Map([[name, value]]), (n, v) => setXattr(file, n, v));
}
