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
