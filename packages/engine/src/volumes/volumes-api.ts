import type { Volume, VolumesApi } from '@berth/core';
import type { VolumeInfo, VolumeService } from './volume-service.js';

/** Core's `VolumesApi` over the VolumeService: Docker's shapes and names, nothing more. */
export function volumesApi(service: VolumeService): VolumesApi {
  return {
    create: async (body) =>
      dockerVolume(
        await service.create({ name: body.Name, driver: body.Driver, labels: body.Labels ?? {}, options: body.DriverOpts ?? {} }),
      ),
    list: async (filters) => ({ Volumes: (await service.list(filters)).map(dockerVolume), Warnings: null }),
    inspect: async (name) => dockerVolume(await service.get(name)),
    remove: (name, force) => service.remove(name, force),
    prune: async (filters) => {
      const { removed, spaceReclaimed } = await service.prune(filters);
      return { VolumesDeleted: removed.length > 0 ? removed : null, SpaceReclaimed: spaceReclaimed };
    },
    diskUsage: async () =>
      (await service.usage()).map((u) => ({ ...dockerVolume(u.volume), UsageData: { Size: u.size, RefCount: u.refCount } })),
  };
}

/** A volume as dockerd shows it. */
export function dockerVolume(v: VolumeInfo): Volume {
  return {
    CreatedAt: v.createdAt,
    Driver: v.driver,
    Labels: v.labels,
    Mountpoint: v.mountpoint,
    Name: v.name,
    Options: v.options,
    Scope: v.scope,
    ...(v.status ? { Status: { ...v.status } } : {}),
  };
}
