import { refuse } from './root-resolver.js';

/** Linux's NAME_MAX: the longest name of one directory entry, in bytes. */
export const maxNameBytes = 255;
/** Linux's PATH_MAX less the final NUL: the longest path or symlink target, in bytes. */
export const maxPathBytes = 4095;

/**
 * The components of an archive path, relative to the root: a leading `/` is dropped
 * (absolute names are relative to the layer), `.` and empty parts vanish, `..` is refused,
 * and so is a name the kernel could never hold (a component over 255 bytes, a path over
 * 4095), so that it fails by name here rather than as an ENAMETOOLONG halfway through.
 * `entry` names the tar entry in the refusal.
 */
export function entryParts(name: string, entry: string): string[] {
  if (Buffer.byteLength(name) > maxPathBytes) throw refuse(entry, `name is longer than ${maxPathBytes} bytes`);
  const parts: string[] = [];
  for (const piece of name.split('/')) {
    if (piece === '' || piece === '.') continue;
    if (piece === '..') throw refuse(entry, 'path contains ".." and would leave the layer\'s root');
    if (Buffer.byteLength(piece) > maxNameBytes) throw refuse(entry, `a component of the name is longer than ${maxNameBytes} bytes`);
    parts.push(piece);
  }
  return parts;
}

/** A symlink target the kernel can store: at most 4095 bytes. */
export function checkSymlinkTarget(target: string, entry: string): void {
  if (Buffer.byteLength(target) > maxPathBytes) throw refuse(entry, `symlink target is longer than ${maxPathBytes} bytes`);
}

/** `.wh.<name>` deletes `<name>` from the layers below. */
export const whiteoutPrefix = '.wh.';
/** `.wh..wh..opq` empties its directory of what the layers below put there. */
export const opaqueMarker = '.wh..wh..opq';
/** aufs bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`) that Docker also ignores. */
export const whiteoutMetaPrefix = '.wh..wh.';

/** The name a whiteout entry `base` hides; refused when it hides nothing nameable (`.wh.`, `.wh..`). */
export function whiteoutTarget(base: string, entry: string): string {
  const hidden = base.slice(whiteoutPrefix.length);
  if (hidden === '' || hidden === '.' || hidden === '..') throw refuse(entry, 'whiteout of an invalid name');
  return hidden;
}
