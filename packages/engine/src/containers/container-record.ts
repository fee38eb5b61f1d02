import type { ContainerConfig, ContainerState, HostConfig, MountSpec } from '@berth/core';

/**
 * Everything the engine keeps about one container, persisted as
 * `<data-root>/containers/<id>/container.json`. The inspect and list answers are
 * derived from it; nothing else about a container is persisted by the engine.
 */
export interface ContainerRecord {
  /**
   * The record format's version (`containerRecordSchema` when written by this berth).
   * A record of an older version is migrated when it is read (state/record-schema.ts);
   * one of a newer version is refused, never guessed at.
   */
  schemaVersion: number;
  id: string;
  /** Without the leading slash. */
  name: string;
  created: string;
  /** The image reference as the user gave it (`busybox`). */
  imageRef: string;
  /** The image id, `sha256:<hex>`. */
  imageId: string;
  /** The merged config (image defaults + create request), as inspect shows it. */
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** The command that runs: entrypoint + cmd, resolved at create. */
  path: string;
  args: string[];
  storageDriver: string;
  /** The mounts that show the container's root filesystem (from the storage driver). */
  rootfsMounts: MountSpec[];
  runtime: string;
  /** 'private' (own network namespace) or 'host'. */
  networkMode: string;
  state: ContainerState;
  restartCount: number;
}
