/** A volume as a driver reports it. */
export interface VolumeInfo {
  name: string;
  /** The host path where the volume is mounted, once mounted ("" before). */
  mountpoint: string;
  /** Creation time, ISO 8601, when the driver knows it. */
  createdAt?: string;
  /** Driver-specific status shown by `docker volume inspect`. */
  status?: Record<string, unknown>;
}

/** What a driver can do. `local` volumes live on one host, `global` ones everywhere. */
export interface VolumeCapabilities {
  scope: 'local' | 'global';
}

/**
 * A volume driver keeps named volumes. The contract mirrors Docker's volume plugin
 * protocol (`VolumeDriver.*`), so an out-of-process plugin is a thin adapter and a
 * driver written in TypeScript can be served out of process too.
 *
 * Lifecycle of a volume: `create(name, opts)` → for each container that uses it
 * `mount(name, mountId)` returns a host path the engine bind-mounts, and
 * `unmount(name, mountId)` when the container stops (the same `mountId` for the pair,
 * so a driver can count users) → `remove(name)` once no container uses it.
 * `get`/`list` answer from the driver's own records; labels and options are the
 * engine's records, not the driver's. Throws NotFound for unknown names.
 */
export interface VolumeDriver {
  readonly name: string;
  create(name: string, options: Record<string, string>): Promise<void>;
  remove(name: string): Promise<void>;
  mount(name: string, mountId: string): Promise<string>;
  unmount(name: string, mountId: string): Promise<void>;
  path(name: string): Promise<string>;
  get(name: string): Promise<VolumeInfo>;
  list(): Promise<VolumeInfo[]>;
  capabilities(): Promise<VolumeCapabilities>;
}
