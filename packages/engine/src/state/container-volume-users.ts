import type { VolumeUsers } from '../volumes/volume-users.js';
import type { ContainerStore } from './container-store.js';

/**
 * The container store serving the volumes' "who uses this volume" port: a container uses
 * a volume its `HostConfig.Mounts` names (`type=volume`) or a `-v name:/path` bind names
 * (a source that is not an absolute path is a volume's name).
 */
export function containerVolumeUsers(store: ContainerStore): VolumeUsers {
  return {
    usersOf: (volumeName) =>
      store.all().flatMap((r) => {
        const mounts = r.hostConfig.Mounts ?? [];
        const binds = r.hostConfig.Binds ?? [];
        const uses =
          mounts.some((m) => m.Type === 'volume' && m.Source === volumeName) || binds.some((b) => b.split(':')[0] === volumeName);
        return uses ? [r.id] : [];
      }),
  };
}
