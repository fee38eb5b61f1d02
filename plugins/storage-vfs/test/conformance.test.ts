import plugin from '@berth/storage-vfs';
import { pluginContext, storageDriverSuite } from '@berth/testkit';

// Through the manifest, as the engine builds it: init probes cp under the root first.
storageDriverSuite('vfs', async (root) => plugin.init(pluginContext(root)), {
  tempPrefix: '/tmp/berth-unit-vfs-conformance-',
  // The crash case runs the plugin in a child process it kills.
  crashModule: require.resolve('@berth/storage-vfs'),
});
