import { token } from '@berth/core';

/** A container as `rmi` needs to know it: which one, and whether it runs. */
export interface ImageUser {
  id: string;
  running: boolean;
}

/**
 * The port through which images ask "which containers use this image" (for `rmi`'s
 * conflict checks), served by the container store. It keeps images from depending on
 * containers: the engine wires the container store to it.
 */
export interface ImageUsers {
  usersOf(imageId: string): ImageUser[];
}

export const ImageUsersToken = token<ImageUsers>('ImageUsers');
