import { randomBytes } from 'node:crypto';
import {
  Conflict,
  type DriverVolume,
  type EventBus,
  EventBusToken,
  type Filters,
  inject,
  injectable,
  isBerthError,
  type Logger,
  LoggerToken,
  NotFound,
  token,
  type VolumeDriver,
  type VolumeMountContext,
} from '@berth/core';
import { type DriverLookup, DriverLookupToken } from '../plugins/driver-lookup.js';
import { directorySize } from './directory-size.js';
import { emptyDirectory, isEmptyDirectory } from './populate-volume.js';
import { matchesVolumeFilters } from './volume-filters.js';
import { checkVolumeName } from './volume-name.js';
import type { VolumeRecord } from './volume-record.js';
import { type VolumeStore, VolumeStoreToken } from './volume-store.js';
import { type VolumeUsers, VolumeUsersToken } from './volume-users.js';

/** The driver every volume gets when none is named (`docker volume create` without `-d`). */
export const DEFAULT_VOLUME_DRIVER = 'local';

/** What `volume create` asks for. A volume without a name gets a random one, as Docker's. */
export interface VolumeCreateRequest {
  name?: string;
  driver?: string;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  /** Made for one container (`-v /path`, an image's VOLUME): `rm -v` removes it with the container. */
  anonymous?: boolean;
}

/** A volume as the engine shows it: its record, and what its driver says of it. */
export interface VolumeInfo {
  name: string;
  driver: string;
  /** The driver's path for it; "" for a driver that has one only while mounted. */
  mountpoint: string;
  createdAt: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  scope: 'local' | 'global';
  anonymous: boolean;
  status?: Readonly<Record<string, unknown>>;
}

/** What a prune removed, and the bytes the removed volumes' data held (where the driver gave a path). */
export interface VolumePruneResult {
  removed: string[];
  spaceReclaimed: number;
}

/**
 * Volumes: their names, drivers, labels and options (the VolumeStore's records), created
 * and removed through their drivers, and listed with Docker's filters. A volume some
 * container uses (the VolumeUsers port: the container store) is not removed: Conflict
 * naming the containers. Every change to one volume is serialised by its name.
 *
 * Order, for crash safety: create asks the driver first and writes the record after;
 * remove deletes the record first and asks the driver after. A crash in between leaves a
 * driver's volume without a record, which `load` adopts back (a volume is never lost,
 * at worst one that was being removed comes back).
 */
@injectable()
export class VolumeService {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    @inject(VolumeStoreToken) private readonly store: VolumeStore,
    @inject(DriverLookupToken) private readonly drivers: DriverLookup,
    @inject(VolumeUsersToken) private readonly users: VolumeUsers,
    @inject(EventBusToken) private readonly events: EventBus,
    @inject(LoggerToken) private readonly log: Logger,
  ) {}

  /**
   * Load the records, then adopt every volume a driver holds that has no record (a create
   * or remove cut short), and empty every volume whose pre-population a crash cut short.
   */
  async load(): Promise<void> {
    await this.store.load((file, err) => this.log.warn('unreadable volume record, skipped', { file, error: String(err) }));
    for (const record of this.store.list()) {
      if (record.populating) await this.undoPopulation(record);
    }
    for (const [name, driver] of this.drivers.drivers('volume')) {
      let volumes: DriverVolume[];
      try {
        volumes = await driver.list();
      } catch (err) {
        this.log.warn('volume driver could not list its volumes', { driver: name, error: String(err) });
        continue;
      }
      for (const v of volumes) {
        if (this.store.get(v.name)) continue;
        await this.store.save({
          name: v.name,
          driver: name,
          labels: {},
          options: {},
          createdAt: v.createdAt ?? new Date().toISOString(),
          anonymous: false,
        });
      }
    }
  }

  async create(request: VolumeCreateRequest): Promise<VolumeInfo> {
    const name = request.name || randomBytes(32).toString('hex');
    checkVolumeName(name);
    const driverName = request.driver || DEFAULT_VOLUME_DRIVER;
    return this.serial(name, async () => {
      const existing = this.store.get(name);
      if (existing) {
        if (existing.driver !== driverName) {
          throw new Conflict(`create ${name}: volume name ${name} already in use with driver ${existing.driver}`);
        }
        return this.info(existing);
      }
      const driver = await this.drivers.get('volume', driverName);
      const made = await driver.create(name, request.options ?? {});
      const record: VolumeRecord = {
        name,
        driver: driverName,
        labels: { ...request.labels },
        options: { ...request.options },
        createdAt: made.createdAt ?? new Date().toISOString(),
        anonymous: request.anonymous ?? false,
      };
      await this.store.save(record);
      this.events.publish('volume', 'create', name, { driver: driverName });
      return describe(record, driver, made);
    });
  }

  /** One volume; NotFound `get <name>: no such volume`, as dockerd says. */
  async get(name: string): Promise<VolumeInfo> {
    return this.info(this.record(name));
  }

  /** Every volume the filters match. */
  async list(filters: Filters = {}): Promise<VolumeInfo[]> {
    const users = (n: string) => this.users.usersOf(n);
    const matched = this.store.list().filter((r) => matchesVolumeFilters(r, filters, users));
    // A driver that cannot answer (a Docker plugin that is not running) hides none of the list: its volumes show their records.
    return Promise.all(
      matched.map((r) =>
        this.info(r).catch((err: unknown) => {
          this.log.warn('volume driver could not describe a volume', { volume: r.name, driver: r.driver, error: String(err) });
          return describe(r, this.drivers.loaded('volume', r.driver), undefined);
        }),
      ),
    );
  }

  /**
   * Remove a volume. One in use is a Conflict naming its containers, even with `force`
   * (as Docker's); `force` makes an unknown name no error.
   */
  async remove(name: string, force = false): Promise<void> {
    await this.serial(name, async () => {
      const record = this.store.get(name);
      if (!record) {
        if (force) return;
        throw new NotFound(`get ${name}: no such volume`);
      }
      const users = [...new Set([...this.users.usersOf(name), ...(record.mountedBy ?? [])])];
      if (users.length > 0) throw new Conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
      const driver = await this.drivers.get('volume', record.driver);
      await this.store.delete(name);
      try {
        await driver.remove(name);
      } catch (err) {
        // The driver's volume stays: keep the record, so it is still seen and removable.
        if (!isBerthError(err, 'NotFound')) {
          await this.store.save(record);
          throw err;
        }
      }
      this.events.publish('volume', 'destroy', name, { driver: record.driver });
    });
  }

  /**
   * A container's volume by name, created on first use (`-v name:/path`) with the default
   * driver or as `how` says (`--mount`'s volume-driver, volume-opt, volume-label); an
   * existing one is taken as it is. `created` says whether this call made it.
   */
  async ensure(
    name: string,
    anonymous = false,
    how: Pick<VolumeCreateRequest, 'driver' | 'options' | 'labels'> = {},
  ): Promise<{ volume: VolumeInfo; created: boolean }> {
    checkVolumeName(name);
    const existing = this.store.get(name);
    if (existing) return { volume: await this.info(existing), created: false };
    const volume = await this.create({ ...how, name, anonymous });
    return { volume, created: true };
  }

  /**
   * `containerId`'s run needs the volume mounted: the driver's `mount` when it is the
   * first holder (the holder written ahead, undone if the mount fails), nothing more
   * otherwise. Returns the host path. Publishes `volume mount` with the container.
   */
  async acquire(name: string, ctx: VolumeMountContext, attributes: Record<string, string> = {}): Promise<string> {
    return this.serial(name, async () => {
      const record = this.record(name);
      const holders = record.mountedBy ?? [];
      const driver = await this.drivers.get('volume', record.driver);
      let path = (await this.info(record)).mountpoint;
      if (!holders.includes(ctx.containerId)) {
        await this.store.save({ ...record, mountedBy: [...holders, ctx.containerId] });
        // A per-container driver (Docker's protocol) is told of every caller; one counted by the engine, of the first.
        if (holders.length === 0 || perContainer(driver)) {
          try {
            path = await driver.mount(name, ctx);
          } catch (err) {
            await this.store.save({ ...record, mountedBy: holders });
            throw err;
          }
        }
      }
      this.events.publish('volume', 'mount', name, { driver: record.driver, container: ctx.containerId, ...attributes });
      return path;
    });
  }

  /**
   * `containerId`'s run ended: the driver's `unmount` after the last holder (after each, for
   * a per-container driver), then the record. Errors are logged: the run is over either way.
   * A driver no registry holds yet (a Docker plugin not looked up since berthd started: a
   * run that ended while berthd was down, released by recovery) is discovered in the
   * background, in the volume's queue (so what comes next for the volume waits for it), and
   * the holder leaves the record only after its unmount: a plugin that hangs never holds up
   * the engine's start, and a crash meanwhile leaves the holder for the next recovery.
   */
  async release(name: string, containerId: string): Promise<void> {
    const work = this.serial(name, async () => {
      const record = this.store.get(name);
      if (!record || !(record.mountedBy ?? []).includes(containerId)) return;
      const rest = record.mountedBy!.filter((id) => id !== containerId);
      if (rest.length === 0 || perContainer(await this.reachableDriver(record))) await this.unmountQuietly(record, containerId);
      await this.store.save({ ...record, mountedBy: rest });
      this.events.publish('volume', 'unmount', name, { driver: record.driver, container: containerId });
    });
    const driverName = this.store.get(name)?.driver;
    if (driverName !== undefined && !this.drivers.loaded('volume', driverName)) {
      void work.catch((err: unknown) =>
        this.log.warn('volume release failed', { volume: name, container: containerId, error: String(err) }),
      );
      return;
    }
    await work;
  }

  /**
   * At start, after recovery knows which containers run: holders that no longer run are
   * dropped (the last one's volume unmounted), and a volume that some running container
   * holds is mounted again (idempotent for the driver), which is how a mount lost with a
   * crash between the record and the driver is made good. A per-container driver (a
   * Docker plugin, discovered here if need be) gets an `unmount` for each holder that no
   * longer runs, with its ID, and nothing for those that run: its process kept them.
   *
   * A volume whose driver no registry holds yet (a Docker plugin, found by discovery) is
   * reconciled in the background, in its volume's queue, so a plugin that hangs delays
   * only what uses its volumes (each call bounded by its timeout), never the engine's start.
   */
  async reconcileMounts(isRunning: (containerId: string) => boolean): Promise<void> {
    for (const listed of this.store.list()) {
      // Who had ended is decided now, before anything can start again; the record is read in
      // the volume's queue, after what recovery queued (its releases of the runs that ended).
      const ended = new Set((listed.mountedBy ?? []).filter((id) => !isRunning(id)));
      if ((listed.mountedBy ?? []).length === 0) continue;
      const work = this.serial(listed.name, async () => {
        const record = this.store.get(listed.name);
        const holders = record?.mountedBy ?? [];
        if (!record || holders.length === 0) return;
        const keep = holders.filter((id) => !ended.has(id));
        const driver = await this.reachableDriver(record);
        if (perContainer(driver)) {
          for (const gone of holders.filter((id) => ended.has(id))) await this.unmountQuietly(record, gone);
        } else if (keep.length === 0) await this.unmountQuietly(record, holders[0]!);
        else if (driver) {
          await driver
            .mount(record.name, { containerId: keep[0]!, readOnly: false })
            .catch((err: unknown) => this.log.warn('cannot mount a volume again at start', { volume: record.name, error: String(err) }));
        }
        if (keep.length !== holders.length) await this.store.save({ ...record, mountedBy: keep });
      });
      if (this.drivers.loaded('volume', listed.driver)) await work;
      else
        void work.catch((err: unknown) =>
          this.log.warn('cannot reconcile the mounts of a volume', { volume: listed.name, error: String(err) }),
        );
    }
  }

  /**
   * The volume's driver, discovered if need be (a Docker plugin after a restart); undefined,
   * logged, when it cannot be had (a plugin that is not running): what would have been
   * unmounted then stays with the plugin, as with dockerd.
   */
  private async reachableDriver(record: VolumeRecord): Promise<VolumeDriver | undefined> {
    return this.drivers.find('volume', record.driver).catch((err: unknown) => {
      this.log.warn('volume driver unreachable', { volume: record.name, driver: record.driver, error: String(err) });
      return undefined;
    });
  }

  private async unmountQuietly(record: VolumeRecord, containerId: string): Promise<void> {
    const driver = this.drivers.loaded('volume', record.driver);
    if (!driver) return;
    await driver
      .unmount(record.name, { containerId, readOnly: false })
      .catch((err: unknown) => this.log.warn('volume unmount failed', { volume: record.name, error: String(err) }));
  }

  /** Every volume with the bytes its data holds (-1 without a path) and how many containers use it. */
  async usage(): Promise<Array<{ volume: VolumeInfo; size: number; refCount: number }>> {
    return Promise.all(
      this.store.list().map(async (r) => {
        const volume = await this.info(r);
        const size = volume.mountpoint ? await directorySize(volume.mountpoint) : -1;
        return { volume, size, refCount: this.users.usersOf(r.name).length };
      }),
    );
  }

  /**
   * Pre-populate volume `name`, mounted at `path` by the caller, with `fill` (which calls
   * `begin` once it is sure to copy, before it writes anything): the record says
   * `populating` from `begin` until `fill` is done, so a crash in the middle leaves a mark
   * that `load` (or the next call here) finds, and the half-filled volume is emptied
   * rather than taken for complete, then filled again by the next container created with
   * it. Returns what `fill` returns.
   */
  async populate(name: string, path: string, fill: (begin: () => Promise<void>) => Promise<number>): Promise<number> {
    return this.serial(name, async () => {
      const record = this.record(name);
      if (record.populating) await emptyDirectory(path);
      let marked = false;
      const begin = async () => {
        await this.store.save({ ...this.record(name), populating: true });
        marked = true;
      };
      let filled = false;
      try {
        const copied = await fill(begin);
        filled = true;
        return copied;
      } finally {
        // The mark goes once the copy is whole, or the volume is empty again (a failed copy removes what it made).
        const clean = filled || (await isEmptyDirectory(path).catch(() => false));
        if ((marked || record.populating) && clean) {
          const { populating: _, ...rest } = this.record(name);
          await this.store.save(rest);
        }
      }
    });
  }

  /** A pre-population a crash cut short: its volume emptied, its mark cleared (logged when the driver cannot be asked). */
  private async undoPopulation(record: VolumeRecord): Promise<void> {
    try {
      const { mountpoint } = await this.info(record);
      if (!mountpoint) throw new Error(`driver ${record.driver} gives no path`);
      if (!(await isEmptyDirectory(mountpoint))) await emptyDirectory(mountpoint);
      const { populating: _, ...rest } = record;
      await this.store.save(rest);
      this.log.info('emptied a volume whose pre-population a crash cut short', { volume: record.name });
    } catch (err) {
      // The mark stays: the next pre-population of the volume empties it first.
      this.log.warn('cannot empty a half-populated volume at start', { volume: record.name, error: String(err) });
    }
  }

  /** Remove every volume no container uses that the label filters match. */
  async prune(filters: Filters = {}): Promise<VolumePruneResult> {
    const unused = (r: VolumeRecord) => this.users.usersOf(r.name).length === 0;
    const candidates = this.store.list().filter((r) => matchesVolumeFilters(r, filters, () => [], true) && unused(r));
    const removed: string[] = [];
    let spaceReclaimed = 0;
    for (const r of candidates) {
      try {
        const { mountpoint } = await this.info(r);
        const size = mountpoint ? await directorySize(mountpoint) : 0;
        await this.remove(r.name);
        removed.push(r.name);
        spaceReclaimed += size;
      } catch (err) {
        // Taken into use, or removed, meanwhile: not this prune's.
        if (!isBerthError(err, 'Conflict') && !isBerthError(err, 'NotFound')) throw err;
      }
    }
    return { removed, spaceReclaimed };
  }

  private record(name: string): VolumeRecord {
    const record = this.store.get(name);
    if (!record) throw new NotFound(`get ${name}: no such volume`);
    return record;
  }

  private async info(record: VolumeRecord): Promise<VolumeInfo> {
    // A Docker plugin's driver is discovered after a restart here too, so inspect shows its Scope and Mountpoint.
    const driver = await this.reachableDriver(record);
    if (!driver) return describe(record, undefined, undefined);
    const found = await driver.get(record.name).catch((err: unknown) => {
      if (isBerthError(err, 'NotFound')) return undefined;
      throw err;
    });
    return describe(record, driver, found);
  }

  /** Run `work` after every earlier change to the same volume. */
  private serial<T>(name: string, work: () => Promise<T>): Promise<T> {
    const before = this.queues.get(name) ?? Promise.resolve();
    const run = before.then(work, work);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(name, tail);
    void tail.then(() => {
      if (this.queues.get(name) === tail) this.queues.delete(name);
    });
    return run;
  }
}

/** Whether the driver wants Docker's `Mount`/`Unmount` per container rather than the engine's count. */
function perContainer(driver: VolumeDriver | undefined): boolean {
  return driver?.mountCalls === 'per-container';
}

function describe(record: VolumeRecord, driver: VolumeDriver | undefined, volume: DriverVolume | undefined): VolumeInfo {
  return {
    name: record.name,
    driver: record.driver,
    mountpoint: volume?.mountpoint ?? '',
    createdAt: record.createdAt,
    labels: record.labels,
    options: record.options,
    scope: driver?.scope ?? 'local',
    anonymous: record.anonymous,
    ...(volume?.status ? { status: volume.status } : {}),
  };
}

export const VolumeServiceToken = token<VolumeService>('VolumeService');
