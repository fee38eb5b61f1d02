import type { ImageUsers } from '../images/image-users.js';
import type { ContainerStore } from './container-store.js';

/** The container store serving the images' "who uses this image" port. */
export function containerImageUsers(store: ContainerStore): ImageUsers {
  return {
    usersOf: (imageId) => store.all().flatMap((r) => (r.imageId === imageId ? [{ id: r.id, running: r.state.Running }] : [])),
  };
}
