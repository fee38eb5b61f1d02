import { promises as fs } from 'node:fs';

/** statfs(2) f_type magic numbers, named as Docker names them in `docker info`. */
const filesystemNames: Record<number, string> = {
  0xef53: 'extfs',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x2fc12fc1: 'zfs',
  0xf2f52010: 'f2fs',
  0x794c7630: 'overlayfs',
  0x65735546: 'fuse',
  0x6969: 'nfs',
  0xff534d42: 'cifs',
  0x858458f6: 'ramfs',
};

/**
 * The name of the filesystem holding `dir` ("extfs", "xfs", ... or the magic number in
 * hex), for a storage driver's `Backing Filesystem` in `docker info`.
 */
export async function backingFilesystem(dir: string): Promise<string> {
  const { type } = await fs.statfs(dir);
  return filesystemNames[type] ?? `0x${type.toString(16)}`;
}
