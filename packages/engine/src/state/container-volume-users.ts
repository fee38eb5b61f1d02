import type { VolumeUsers } from '../volumes/volume-users.js';
import type { ContainerStore } from './container-store.js';

/**
 * The container store serving the volumes' "who uses this volume" port: a container uses
 * the volumes its record lists (resolved at create), and any its `HostConfig.Mounts`
 * (`type=volume`) or `-v name:/path` binds name.
 */
export function containerVolumeUsers(store: ContainerStore): VolumeUsers {
  return {
    usersOf: (volumeName) =>
      store.all().flatMap((r) => {
        const mounts = r.hostConfig.Mounts ?? [];
        const binds = r.hostConfig.Binds ?? [];
        const uses =
          (r.volumes ?? []).some((v) => v.name === volumeName) ||
          mounts.some((m) => m.Type === 'volume' && m.Source === volumeName) ||
          binds.some((b) => b.split(':')[0] === volumeName);
        return uses ? [r.id] : [];
      }),
  };
}
