import plugin from '@berth/storage-fuse';
import { pluginContext, storageDriverSuite } from '@berth/testkit';

// Through the manifest, as the engine builds it: init mounts a test union through the helper first.
storageDriverSuite('fuse', async (root) => plugin.init(pluginContext(root)), {
  tempPrefix: '/tmp/berth-unit-storage-fuse-conformance-',
  // Every mount starts a helper process (~0.2 s): cases with several mounts need more than 5 s.
  caseTimeoutMs: 30_000,
  // The crash case runs the plugin in a child process it kills.
  crashModule: require.resolve('@berth/storage-fuse'),
});
