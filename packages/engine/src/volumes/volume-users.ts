import { token } from '@berth/core';

/**
 * The port through which volumes ask which containers use a volume (so a volume in use
 * is not removed, and `dangling` means something) without depending on containers. The
 * container store answers it.
 */
export interface VolumeUsers {
  /** The ids of the containers (running or not) whose mounts name the volume. */
  usersOf(volumeName: string): string[];
}

export const VolumeUsersToken = token<VolumeUsers>('VolumeUsers');
