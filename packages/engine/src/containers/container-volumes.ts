import { randomBytes } from 'node:crypto';
import { inject, injectable, isBerthError, type Logger, LoggerToken, NotImplemented, token } from '@berth/core';
import type { VolumeRequest } from '../oci/mounts.js';
import { imageHasDirectory, populateVolume } from '../volumes/populate-volume.js';
import { type VolumeService, VolumeServiceToken } from '../volumes/volume-service.js';
import type { ContainerRecord, ContainerVolume } from './container-record.js';

/**
 * A container's volumes, from its create to its removal: each `-v` volume entry and
 * image VOLUME resolved to a volume at create (a named one created on first use, an
 * anonymous one made with a random name), an empty one pre-populated from the image;
 * mounted through the VolumeService's reference count for each run and released at its
 * end; the anonymous ones removed with the container by `rm -v` and `--rm`.
 */
@injectable()
export class ContainerVolumes {
  constructor(
    @inject(VolumeServiceToken) private readonly volumes: VolumeService,
    @inject(LoggerToken) private readonly log: Logger,
  ) {}

  /**
   * The volume of one request of container `id` being created, whose root filesystem is
   * mounted at `rootfs`. A volume it makes is added to `made`, so a create that fails
   * later removes it (`discard`).
   */
  async resolve(id: string, request: VolumeRequest, rootfs: string, made: ContainerVolume[]): Promise<ContainerVolume> {
    const anonymous = request.name === '';
    const name = anonymous ? randomBytes(32).toString('hex') : request.name;
    const { volume, created } = await this.volumes.ensure(name, anonymous, {
      driver: request.driver,
      options: request.driverOptions,
      labels: request.labels,
    });
    const entry: ContainerVolume = {
      name,
      driver: volume.driver,
      source: volume.mountpoint,
      destination: request.destination,
      readOnly: request.readonly,
      anonymous,
      mode: volumeMode(request),
    };
    if (created) made.push(entry);
    // Mounted at create only to copy the image's content in (nothing in the image there,
    // nothing to copy: the common `-v data:/data` mounts nothing), or to learn the path of a
    // driver that has one only while mounted (a Docker plugin's Mount), which the bind needs.
    const copy = !request.nocopy && imageHasDirectory(rootfs, request.destination);
    if (copy || !entry.source) {
      const source = await this.volumes.acquire(name, { containerId: id, readOnly: false });
      try {
        entry.source = source;
        if (copy) {
          const began = performance.now();
          const copied = await this.volumes.populate(name, source, (begin) => populateVolume(rootfs, request.destination, source, begin));
          if (copied > 0) {
            const ms = Math.round((performance.now() - began) * 10) / 10;
            this.log.debug('volume pre-populated', { volume: name, id, destination: request.destination, entries: copied, ms });
          }
        }
      } finally {
        await this.volumes.release(name, id);
      }
    }
    if (!entry.source) {
      throw new NotImplemented(
        `volume ${name} (driver ${volume.driver}) has no host path before it is mounted: berth binds only volumes whose path is known at create`,
      );
    }
    return entry;
  }

  /** Remove the volumes a failed create made. */
  async discard(made: readonly ContainerVolume[]): Promise<void> {
    for (const v of made) {
      await this.volumes
        .remove(v.name, true)
        .catch((err) => this.log.warn('cannot remove a volume of a failed create', { volume: v.name, error: String(err) }));
    }
  }

  /**
   * Mount every volume of the record for a run (the first holder mounts); on failure what
   * was mounted is released. Returns, by destination, the host paths that differ from the
   * ones the bundle was made with (a Docker plugin's `Mount` may answer another path).
   */
  async acquire(record: ContainerRecord): Promise<Map<string, string>> {
    const done: ContainerVolume[] = [];
    const moved = new Map<string, string>();
    try {
      for (const v of record.volumes ?? []) {
        const source = await this.volumes.acquire(
          v.name,
          { containerId: record.id, readOnly: v.readOnly },
          { destination: v.destination, 'read/write': String(!v.readOnly) },
        );
        done.push(v);
        if (source && source !== v.source) moved.set(v.destination, source);
      }
      return moved;
    } catch (err) {
      for (const v of done) await this.volumes.release(v.name, record.id);
      throw err;
    }
  }

  /** The run ended: release every volume of the record (the last holder unmounts). */
  async release(record: ContainerRecord): Promise<void> {
    for (const v of record.volumes ?? []) await this.volumes.release(v.name, record.id);
  }

  /** `rm -v`, `--rm`: the container's anonymous volumes go once its record is gone (one still used elsewhere stays, logged). */
  async removeAnonymous(record: ContainerRecord): Promise<void> {
    for (const v of record.volumes ?? []) {
      if (!v.anonymous) continue;
      await this.volumes.remove(v.name).catch((err: unknown) => {
        if (!isBerthError(err, 'NotFound'))
          this.log.warn('anonymous volume not removed', { volume: v.name, id: record.id, error: String(err) });
      });
    }
  }
}

/** Inspect's Mode of a volume mount: the `-v` entry's options, `z` when it gave none (Docker's default), "" for an image VOLUME. */
function volumeMode(request: VolumeRequest): string {
  if (request.fromVolumes) return '';
  const parts = request.raw.split(':');
  const last = parts[parts.length - 1]!;
  return parts.length > 1 && !last.startsWith('/') ? last : 'z';
}

export const ContainerVolumesToken = token<ContainerVolumes>('ContainerVolumes');
