import { EventBus, silentLogger } from '@berth/core';
import plugin from '@berth/storage-vfs';
import { storageDriverSuite } from '@berth/testkit';

// Through the manifest, as the engine builds it: init probes cp under the root first.
storageDriverSuite(
  'vfs',
  async (root) =>
    plugin.init({
      root,
      execRoot: root,
      dataRoot: root,
      cgroupParent: 'berth-unused',
      config: {},
      events: new EventBus(),
      log: silentLogger,
    }),
  { tempPrefix: '/tmp/bsto-vfs-' },
);
