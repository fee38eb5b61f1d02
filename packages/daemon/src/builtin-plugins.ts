import type { AnyPluginManifest } from '@berth/core';
import discoveryDocker from '@berth/discovery-docker';
import networkBridge from '@berth/network-bridge';
import networkHost from '@berth/network-host';
import networkNone from '@berth/network-none';
import runc, { crunPlugin } from '@berth/runtime-oci';
import storageBtrfs from '@berth/storage-btrfs';
import storageFuse from '@berth/storage-fuse';
import storageOverlay from '@berth/storage-overlay';
import storageVfs from '@berth/storage-vfs';
import volumeLocal from '@berth/volume-local';

/**
 * The plugins berthd offers out of the box, in one explicit list: nothing registers
 * itself by being imported. Storage order does not matter here (the engine applies its
 * priority); third-party plugins named in daemon.json are appended to this list.
 */
export const builtinPlugins: readonly AnyPluginManifest[] = [
  storageOverlay,
  storageBtrfs,
  storageFuse,
  storageVfs,
  runc,
  crunPlugin,
  networkBridge,
  networkNone,
  networkHost,
  volumeLocal,
  discoveryDocker,
];
