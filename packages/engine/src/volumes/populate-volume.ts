import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { resolveInRoot } from '@berth/native';

/**
 * Docker's pre-population: an empty volume mounted where the image has content gets a
 * copy of that content, so `-v data:/var/lib/app` starts with what the image put there.
 * `destination` is resolved inside the container's root (`rootfs`) as the container would
 * resolve it (a symlink in the image pointing at `/etc` means the image's /etc, never the
 * host's), and the copy walks with lstat: a symlink is copied as a symlink, never
 * followed. Directories, regular files and symlinks are copied with their owner, mode
 * and times; device nodes, fifos and sockets are skipped, and hard links become separate
 * files. Returns how many entries were copied; nothing when the volume is not empty or
 * the image has no directory there. Runs at create, while the container's process does
 * not exist, so nothing changes the tree meanwhile.
 */
export async function populateVolume(rootfs: string, destination: string, volumePath: string): Promise<number> {
  if ((await fs.readdir(volumePath)).length > 0) return 0;
  let source: string;
  try {
    source = resolveInRoot(rootfs, destination);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const st = await fs.lstat(source).catch(() => undefined);
  if (!st?.isDirectory()) return 0;
  const copied = await copyChildren(source, volumePath);
  // The volume's root takes the owner and mode of the image's directory, as Docker's copy does.
  await fs.chown(volumePath, st.uid, st.gid);
  await fs.chmod(volumePath, st.mode & 0o7777);
  return copied;
}

async function copyChildren(from: string, to: string): Promise<number> {
  let count = 0;
  for (const entry of await fs.readdir(from)) {
    const src = path.join(from, entry);
    const dst = path.join(to, entry);
    const st = await fs.lstat(src);
    if (st.isDirectory()) {
      await fs.mkdir(dst, { mode: 0o700 });
      count += await copyChildren(src, dst);
      await fs.chown(dst, st.uid, st.gid);
      await fs.chmod(dst, st.mode & 0o7777);
      await fs.utimes(dst, st.atime, st.mtime);
    } else if (st.isFile()) {
      await fs.copyFile(src, dst, fs.constants.COPYFILE_EXCL);
      await fs.chown(dst, st.uid, st.gid);
      await fs.chmod(dst, st.mode & 0o7777);
      await fs.utimes(dst, st.atime, st.mtime);
    } else if (st.isSymbolicLink()) {
      await fs.symlink(await fs.readlink(src), dst);
      await fs.lchown(dst, st.uid, st.gid);
    } else {
      continue;
    }
    count++;
  }
  return count;
}
