import { createReadStream, mkdtempSync } from 'node:fs';
import * as path from 'node:path';
import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import vfs from '@berth/storage-vfs';
import { engineApiSuite } from '@berth/testkit';
import { createEngine } from '../src/index.js';
import { removeAndAssertNoMounts } from './support/cleanup.js';

// The EngineApi contract the API's fake engine also passes, on the real engine: real
// containers of the busybox fixture under runc, vfs storage (no mounts to leak).
const busybox = path.resolve(__dirname, '../../../test/fixtures/.cache/busybox.tar');

engineApiSuite('real engine', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-contract-');
  try {
    const engine = await createEngine({
      dataRoot: path.join(dir, 'data'),
      execRoot: path.join(dir, 'exec'),
      cgroupParent: `berth-unit-contract-${path.basename(dir).slice(-6)}`,
      plugins: [vfs, runc, none],
    });
    try {
      await engine.images.load(createReadStream(busybox));
    } catch (err) {
      await engine.close();
      throw err;
    }
    return {
      engine,
      async cleanup() {
        try {
          for (const c of await engine.containers.list({ all: true })) await engine.containers.remove(c.Id, { force: true });
          await engine.close();
        } finally {
          removeAndAssertNoMounts(dir);
        }
      },
    };
  } catch (err) {
    removeAndAssertNoMounts(dir);
    throw err;
  }
});
