/**
 * The engine's record of one volume (`<data-root>/volumes/_records/<name>.json`): what
 * the driver does not keep. The driver keeps the data; the engine keeps the name, the
 * driver that holds it, its labels and options, and whether it is anonymous (made for
 * one container, removed with it by `rm -v`).
 */
export interface VolumeRecord {
  name: string;
  driver: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** ISO 8601 */
  createdAt: string;
  anonymous: boolean;
  /**
   * The containers whose runs hold the volume mounted, written ahead of the driver's
   * `mount` (the first) and after its `unmount` (the last): the engine's reference count,
   * which survives a crash and is reconciled with the running containers at start.
   */
  mountedBy?: string[];
  /**
   * Set while the engine pre-populates the volume from an image (written before the first
   * entry is copied, cleared after the last): a volume found so after a crash is
   * half-filled, and is emptied (at start, or by the next pre-population) rather than
   * taken for complete.
   */
  populating?: boolean;
}
