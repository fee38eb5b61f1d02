import { token } from '@berth/core';

/**
 * The port networks ask "what is this container called" through (network inspect's
 * Containers), answered by the container store, so networks never import containers.
 */
export interface ContainerNames {
  nameOf(containerId: string): string | undefined;
}

export const ContainerNamesToken = token<ContainerNames>('ContainerNames');
