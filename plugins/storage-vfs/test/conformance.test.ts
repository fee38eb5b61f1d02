import { EventBus, silentLogger } from '@berth/core';
import { storageDriverSuite } from '@berth/testkit';
import plugin from '@berth/storage-vfs';

// Through the manifest, as the engine builds it: init probes cp under the root first.
storageDriverSuite(
  'vfs',
  async (root) => plugin.init({ root, execRoot: root, dataRoot: root, config: {}, events: new EventBus(), log: silentLogger }),
  { tempPrefix: '/tmp/bsto-vfs-' },
);
