export {
  AT,
  chmodAt,
  chownAt,
  linkAt,
  mkdirAt,
  mknodAt,
  O_PATH,
  openAt,
  RESOLVE,
  readDir,
  readlinkAt,
  type StatAt,
  statAt,
  symlinkAt,
  UTIME,
  unlinkAt,
  utimensAt,
  utimesAt,
} from './at-calls.js';
export { type CopiedTree, copyTree } from './copy-tree.js';
export { gunzipMember, gzipMember, markedMemberLength, memberHeaderSize } from './gzip-member.js';
export { isMountPoint, MNT_DETACH, MS, mount, mountAll, mountSpec, umount, unmountAll } from './mount.js';
export {
  helperArgv,
  logTail,
  type MountedAll,
  type MountHelperOptions,
  type MountHelperProcess,
  mountAllAsync,
  startMountHelper,
  stopMountHelper,
} from './mount-helper.js';
export { type NetlinkOptions, netlinkRequestsMax, netlinkTransact, netlinkTransactSync } from './netlink.js';
export { openInRoot, resolveInRoot } from './resolve-in-root.js';
export { socketInNetns } from './socket-in-netns.js';
export {
  type SpawnDetachedOptions,
  type SpawnedDetached,
  type SpawningDetached,
  spawnDetached,
  spawnDetachedAsync,
} from './spawn-detached.js';
export { trimMalloc } from './trim-malloc.js';
export { type NewFile, writeNewFiles, writeNewFilesMax, writeNewFilesSync } from './write-new-file.js';
export { getXattr, listXattrs, removeXattr, setXattr, setXattrAt } from './xattr.js';
