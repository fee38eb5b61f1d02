import { binding } from './binding.js';

/**
 * lgetxattr(2): the value of extended attribute `name` of `file` itself (a final symlink
 * is not followed), as a latin1 string (one character per byte), or null when the file
 * has no such attribute. Other failures throw like Node's fs errors (`ENOENT`, ...).
 * Storage drivers read overlayfs's `trusted.overlay.opaque` with it.
 */
export function getXattr(file: string, name: string): string | null {
  return binding.lgetxattr(file, name);
}

/**
 * lsetxattr(2): set extended attribute `name` of `file` itself (a final symlink is not
 * followed) to the raw bytes `value`. Throws like Node's fs errors (`ENOTSUP` where the
 * filesystem has no such namespace, `EPERM`, ...). Layer unpacking keeps a layer's
 * xattrs (`security.capability` of a binary) with it.
 */
export function setXattr(file: string, name: string, value: Buffer): void {
  binding.lsetxattr(file, name, value);
}

/** fsetxattr(2): as `setXattr`, on an open file or directory descriptor (never by path). */
export function setXattrAt(fd: number, name: string, value: Buffer): void {
  binding.fsetxattr(fd, name, value);
}

/** llistxattr(2): the names of the extended attributes of `file` itself (a final symlink is not followed). */
export function listXattrs(file: string): string[] {
  return binding.llistxattr(file);
}

/** lremovexattr(2): remove extended attribute `name` of `file` itself. Throws `ENODATA` when it has none. */
export function removeXattr(file: string, name: string): void {
  binding.lremovexattr(file, name);
}
