import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import vfs from '@berth/storage-vfs';
import { engineApiSuite } from '@berth/testkit';
import { startTestEngine, stopTestEngine } from './support/test-engine.js';

// The EngineApi contract the API's fake engine also passes, on the real engine: real
// containers of the busybox fixture under runc, vfs storage (no mounts to leak).

engineApiSuite('real engine', async () => {
  const started = await startTestEngine('contract', { plugins: [vfs, runc, none] });
  return { engine: started.engine, cleanup: () => stopTestEngine(started) };
});
