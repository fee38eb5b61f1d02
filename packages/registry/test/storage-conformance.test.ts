import { FilesystemStorage, registryStorageCases } from '@berth/registry';
import { test } from 'uvu';
import { tempDir } from './support.js';

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
