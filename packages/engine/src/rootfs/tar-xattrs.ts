/**
 * How a tar's extended attributes (pax `SCHILY.xattr.*`) land on disk, for image layers
 * and for `docker cp` into a container alike: as dockerd keeps them (a binary's
 * `security.capability`, `user.*`), through `set` (lsetxattr by path for a layer being
 * unpacked, fsetxattr on a descriptor for a copy into a running container). What the
 * filesystem cannot hold (ENOTSUP) or the kernel will not let berth set (EPERM) is
 * skipped, as dockerd skips it; overlayfs's own `trusted.overlay.*` namespace is never
 * taken from a tar (it would redirect or hide the lower layers).
 */
export function applyTarXattrs(xattrs: ReadonlyMap<string, Buffer>, set: (name: string, value: Buffer) => void): void {
  for (const [name, value] of xattrs) {
    if (name.startsWith('trusted.overlay.')) continue;
    try {
      set(name, value);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EPERM') throw err;
    }
  }
}
