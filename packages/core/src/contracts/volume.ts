/** A volume as its driver knows it. Labels and which containers use it are the engine's records, not the driver's. */
export interface DriverVolume {
  readonly name: string;
  /**
   * The host path a container's mount would bind, when the driver knows it before a
   * mount (a local directory); `undefined` for a driver that only has a path while
   * mounted (a remote filesystem).
   */
  readonly mountpoint?: string;
  /** Creation time, ISO 8601, when the driver knows it. */
  readonly createdAt?: string;
  /** Driver-specific status shown by `docker volume inspect` (`Status`). */
  readonly status?: Readonly<Record<string, unknown>>;
}

/**
 * Who needs a volume mounted, and how. The engine calls `mount` and `unmount` with the
 * same context for one container's run, so a driver can tell its users apart in its
 * logs; it never needs to count them (the engine does). For a driver whose `mountCalls`
 * is `per-container`, `containerId` is the caller's ID of Docker's protocol: unique per
 * container, the same at its `mount` and its `unmount`.
 */
export interface VolumeMountContext {
  /** The container the volume is mounted for. */
  readonly containerId: string;
  /** Whether every mount of the volume at this point is read-only (`-v name:/p:ro`). */
  readonly readOnly: boolean;
}

/**
 * A volume driver keeps named volumes: a directory under the data root (`local`), a
 * remote share, an encrypted image file. This is the engine-side contract; an adapter
 * for Docker's out-of-process volume plugins (their `VolumeDriver.*` wire protocol)
 * implements it, so only that adapter knows the protocol.
 *
 * Lifecycle of a volume:
 * 1. `create(name, options)` makes it and returns it. `options` are the `-o` options;
 *    an option the driver does not know is an `InvalidArgument` naming it, and nothing
 *    is left behind. Creating a name that exists with the same options returns it.
 * 2. `mount(name, ctx)` when the first running container needs it (but see `mountCalls`): returns the host path
 *    the engine bind-mounts into the container. The engine keeps the reference count
 *    (in records that survive a crash): `mount` is called once however many containers
 *    share the volume, and again after a berthd restart if the engine's records say a
 *    mount may have been lost; it must then be idempotent.
 * 3. `unmount(name, ctx)` after the last container using it stopped.
 * 4. `remove(name)` once no container uses it (the engine checks; the driver may refuse
 *    with `Conflict` if it is still mounted).
 * `get`/`list` answer from the driver's own state. Errors are core's branded classes
 * (`NotFound` for an unknown name, `InvalidArgument` for bad options, `Conflict`), told
 * apart with `isBerthError`, never `instanceof`.
 */
export interface VolumeDriver {
  readonly name: string;
  /**
   * How the engine calls `mount`/`unmount` (absent: `once`).
   * - `once`: steps 2 and 3 above; the engine's reference count decides, the driver counts nothing.
   * - `per-container`: Docker's volume plugin protocol, for the adapter of out-of-process
   *   plugins (which count their callers themselves, by ID). `mount(name, ctx)` is called
   *   for every container that starts with the volume (and once at create, around the
   *   copy of the image's content into it, as for `once`), `unmount(name, ctx)` when that
   *   container's run ends, each with that container's `containerId` as the caller's ID.
   *   The engine still records every holder ahead of the driver's `mount` (the same
   *   records as its count), so after a berthd crash each holder whose container is no
   *   longer running gets its `unmount`, with its own ID, at recovery; the holders still
   *   running get no call (the plugin process kept their mounts while berthd was down).
   */
  readonly mountCalls?: 'once' | 'per-container';
  /** `local` volumes live on one host, `global` ones everywhere (Docker's `Scope`). */
  readonly scope: 'local' | 'global';
  create(name: string, options: Readonly<Record<string, string>>): Promise<DriverVolume>;
  get(name: string): Promise<DriverVolume>;
  list(): Promise<DriverVolume[]>;
  remove(name: string): Promise<void>;
  mount(name: string, ctx: VolumeMountContext): Promise<string>;
  unmount(name: string, ctx: VolumeMountContext): Promise<void>;
}
