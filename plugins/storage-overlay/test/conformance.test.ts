import { EventBus, silentLogger } from '@berth/core';
import { storageDriverSuite } from '@berth/testkit';
import plugin from '@berth/storage-overlay';

// Through the manifest, as the engine builds it: init probes overlay under the root first.
storageDriverSuite(
  'overlay',
  async (root) => plugin.init({ root, execRoot: root, dataRoot: root, config: {}, events: new EventBus(), log: silentLogger }),
  { tempPrefix: '/tmp/bsto-overlay-' },
);
