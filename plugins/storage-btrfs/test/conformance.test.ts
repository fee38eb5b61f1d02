import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pluginContext, storageDriverSuite } from '@berth/testkit';
import plugin, { deleteSubvolume } from '../src/index.js';
import { LoopBtrfs } from './loop-btrfs.js';

// Every case's directory is on a btrfs of this file's own, loop-mounted for the suite.
const loop = LoopBtrfs.plan();
storageDriverSuite('btrfs', async (root) => plugin.init(pluginContext(root)), {
  tempPrefix: `${loop.mountPoint}/case-`,
  caseTimeoutMs: 60_000,
  // The crash case runs the plugin in a child process it kills.
  crashModule: require.resolve('@berth/storage-btrfs'),
  before: async () => loop.create(),
  after: async () => loop.destroy(),
  // Committed layers are read-only subvolumes: a recursive rm cannot empty them.
  clearRoot: async (root) => {
    const snapshots = path.join(root, 'snapshots');
    for (const name of await fs.readdir(snapshots).catch(() => [])) await deleteSubvolume(path.join(snapshots, name));
  },
});
