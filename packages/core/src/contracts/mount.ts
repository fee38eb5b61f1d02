/**
 * A mount to perform, described rather than done: drivers return these and the
 * engine (or the OCI runtime) performs them. This keeps drivers free of mount
 * side effects, testable, and able to live out of process (containerd's lesson).
 *
 * The fields mirror mount(8): `type` ("overlay", "bind", "btrfs", "fuse.berth"...),
 * `source` (a device, a directory, or the filesystem name), and `options`
 * (comma-free list such as ["ro", "rbind"] or ["lowerdir=/a:/b", "upperdir=/u", "workdir=/w"]).
 */
export interface MountSpec {
  type: string;
  source: string;
  options: string[];
}
