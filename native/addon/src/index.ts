export { mount, umount, MS, MNT_DETACH, mountSpec, mountAll, unmountAll, isMountPoint } from './mount.js';
export { resolveInRoot, openInRoot } from './resolve-in-root.js';
