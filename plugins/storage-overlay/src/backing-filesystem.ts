/** Filesystems whose directory entries always carry d_type (overlayfs needs it from its upper layer). */
const alwaysDType = new Set(['extfs', 'btrfs', 'tmpfs', 'zfs', 'f2fs']);

/**
 * Whether the filesystem fills in d_type, as far as its type (core's backingFilesystem)
 * tells: "true" for the ones that always do, "unknown" otherwise (xfs made with ftype=0
 * does not; telling needs getdents(2), which Node does not expose: its readdir falls back
 * to lstat).
 */
export function dTypeSupport(filesystem: string): 'true' | 'unknown' {
  return alwaysDType.has(filesystem) ? 'true' : 'unknown';
}
