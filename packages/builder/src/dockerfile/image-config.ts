import type { ContainerConfig } from '@berth/image';

/**
 * The part of an OCI image config a Dockerfile changes: the `config` object with
 * Docker's capitalised keys (`@berth/image`'s ContainerConfig); fields this package does
 * not know pass through untouched.
 */
export type ImageRuntimeConfig = ContainerConfig;

/** The shell of shell-form commands when the image sets none (Linux). */
export const defaultShell: readonly string[] = ['/bin/sh', '-c'];
