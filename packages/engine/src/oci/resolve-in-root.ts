import { constants, lstatSync, readlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as path from 'node:path';

/**
 * Resolve `p`, a path as the container sees it, to a host path inside `root`,
 * following symlinks as the container would: an absolute link target starts again
 * at `root`, and `..` never climbs above it. So a rootfs whose /etc/passwd links to
 * /etc/passwd resolves to `<root>/etc/passwd`, never to the host's.
 *
 * Segment by segment with lstat; components that do not exist are appended as they
 * are, so the result may name a file that does not exist yet. More than 40 links
 * (the kernel's limit) is ELOOP.
 *
 * This is a user-space resolution: a process that changes the rootfs between this
 * call and the caller's open could still redirect it. `readFileInRoot` narrows that
 * with O_NOFOLLOW on the last component; the full fix is openat2(RESOLVE_IN_ROOT),
 * which @berth/native offers — swap this function for it when it lands.
 */
export function resolveInRoot(root: string, p: string): string {
  const base = path.resolve(root);
  const pending = splitPath(p);
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(base, ...resolved, part);
    let isLink = false;
    try {
      isLink = lstatSync(candidate).isSymbolicLink();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
    }
    if (!isLink) {
      resolved.push(part);
      continue;
    }
    if (++links > 40) {
      throw Object.assign(new Error(`too many levels of symbolic links resolving ${p} in ${root}`), { code: 'ELOOP' });
    }
    const target = readlinkSync(candidate);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...splitPath(target));
  }
  return path.join(base, ...resolved);
}

function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s !== '');
}

/**
 * Read a regular file of the container's filesystem, resolved inside `root`.
 * Returns undefined when it does not exist. The last component is opened with
 * O_NOFOLLOW, so a symlink swapped in after resolution fails rather than escapes,
 * and O_NONBLOCK, so an image that puts a FIFO there cannot hang the daemon.
 * Anything but a regular file, or one over `maxBytes`, is an error.
 */
export async function readFileInRoot(root: string, p: string, maxBytes = 16 << 20): Promise<string | undefined> {
  const hostPath = resolveInRoot(root, p);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new Error(`${p} in the container's filesystem is not a regular file`);
    if (st.size > maxBytes) throw new Error(`${p} in the container's filesystem is larger than ${maxBytes} bytes`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}
