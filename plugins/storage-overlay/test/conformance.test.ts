import plugin from '@berth/storage-overlay';
import { pluginContext, storageDriverSuite } from '@berth/testkit';

// Through the manifest, as the engine builds it: init probes overlay under the root first.
storageDriverSuite('overlay', async (root) => plugin.init(pluginContext(root)), {
  tempPrefix: '/tmp/berth-unit-overlay-conformance-',
  // The crash case runs the plugin in a child process it kills.
  crashModule: require.resolve('@berth/storage-overlay'),
});
