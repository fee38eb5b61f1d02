import { FilesystemStorage, registryStorageCases } from '@berth/registry';
import { suiteTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import { tempDir } from './support.js';

// fsyncs of every blob and MiB-sized transfers: seconds on a loaded 2-core machine, not the default 5.
suiteTimeout(test, 20_000);

// The RegistryStorage contract's checks (src/storage/storage-conformance.ts) on the filesystem backend.
for (const c of registryStorageCases) {
  test(`FilesystemStorage: ${c.name}`, async () => {
    const { dir, cleanup } = tempDir('conformance');
    try {
      await c.run(await FilesystemStorage.open(dir));
    } finally {
      cleanup();
    }
  });
}

test.run();
