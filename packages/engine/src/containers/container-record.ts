import type { ContainerConfig, ContainerState, HostConfig, MountSpec } from '@berth/core';
import type { NetworkAttachment } from './network-attachments.js';

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
  /** The network the container runs on, as the create named it: `default` (the daemon's default network), a name or an id. */
  networkMode: string;
  /**
   * `State` as inspect shows it. `Health` (a container with a health check, once it has
   * run) is written by the HealthMonitor after every probe and kept across engine
   * restarts; a record of an older berth without it reads as no health yet.
   */
  state: ContainerState;
  /**
   * An operation under way when this record was written, written ahead with the state
   * it is to lead to. Only `start` today: the record says running (pid 0) while the
   * runtime creates and starts the container; if the engine dies before the run is
   * confirmed, recovery asks the runtime — running or exited: the start happened;
   * created: the process never ran, so the run is undone and the state goes back to
   * `prior`. Absent once the outcome is recorded (an exit, a failed start).
   */
  pending?: { op: 'start'; prior: ContainerState };
  restartCount: number;
  /**
   * The networks the container joins at each start, in order: the network of its mode
   * first, then the create's other `EndpointsConfig` networks, then those `network connect`
   * added (each with what was asked of its endpoint there). Empty for `container:<id>`
   * (the container has no endpoint of its own) and once every network was disconnected.
   * While the container runs, each has an endpoint in the network store.
   */
  networks: NetworkAttachment[];
  /**
   * The volumes the container mounts (`-v name:/path`, `-v /path`, the image's VOLUMEs),
   * resolved at create: each is mounted by its driver (through the VolumeService's
   * reference count) for every run, and the anonymous ones go with `rm -v`. Absent in a
   * record of a berth before volumes, whose anonymous volumes were directories of the
   * container's own.
   */
  volumes?: ContainerVolume[];
  /**
   * The bind mounts `--volumes-from` gave it (as `-v` entries), beside its own
   * `HostConfig.Binds`; its volumes from there are in `volumes`.
   */
  volumesFromBinds?: string[];
  /**
   * Docker's "has been manually stopped": set by `stop` and by `kill` with SIGKILL or the
   * stop signal, cleared by `start`. A restart policy never restarts the exit that
   * follows, and `unless-stopped` containers stay stopped when the daemon starts again.
   * Absent in records written before restart policies (read as false).
   */
  manuallyStopped?: boolean;
}

/** One volume a container mounts, as its record keeps it (and inspect's `Mounts` shows it). */
export interface ContainerVolume {
  name: string;
  driver: string;
  /** The host path bound into the container (the driver's mountpoint). */
  source: string;
  destination: string;
  readOnly: boolean;
  /** Made for this container (`-v /path`, an image VOLUME): removed with it by `rm -v` and `--rm`. */
  anonymous: boolean;
  /** Inspect's `Mode`: `z` for a `-v` entry without one (Docker's default label mode), the given mode, "" for an image VOLUME. */
  mode: string;
}
