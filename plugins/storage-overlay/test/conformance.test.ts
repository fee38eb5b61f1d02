import { EventBus, silentLogger } from '@berth/core';
import plugin from '@berth/storage-overlay';
import { storageDriverSuite } from '@berth/testkit';

// Through the manifest, as the engine builds it: init probes overlay under the root first.
storageDriverSuite(
  'overlay',
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
  { tempPrefix: '/tmp/bsto-overlay-' },
);
