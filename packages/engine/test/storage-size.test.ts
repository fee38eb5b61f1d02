import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { refuseUnsupportedSettings, storageSizeBytes } from '../src/oci/unsupported-settings.js';

// `--storage-opt size=`: read as Docker reads it, accepted only where the storage driver enforces it.

test('storageSizeBytes reads a number with an optional binary unit', () => {
  assert.is(storageSizeBytes('1024'), 1024);
  assert.is(storageSizeBytes('64M'), 64 * 2 ** 20);
  assert.is(storageSizeBytes('10g'), 10 * 2 ** 30);
  assert.is(storageSizeBytes('1.5GB'), 1.5 * 2 ** 30);
  assert.is(storageSizeBytes('2KiB'), 2048);
  for (const bad of ['', 'lots', '-1G', '0', '10X']) assert.throws(() => storageSizeBytes(bad), /invalid size/, bad);
});

test('size is refused where the driver has no quotas, accepted where it has, and other options are refused either way', () => {
  const body = (opts: Record<string, string>) => ({ Image: 'busybox', HostConfig: { StorageOpt: opts } });
  assert.throws(
    () => refuseUnsupportedSettings(body({ size: '1G' }), { hostNetwork: false, storageDriver: 'overlay' }),
    /not supported by the overlay storage driver/,
  );
  assert.equal(refuseUnsupportedSettings(body({ size: '1G' }), { hostNetwork: false, storageDriver: 'btrfs', sizeQuota: true }), []);
  assert.throws(
    () => refuseUnsupportedSettings(body({ size: 'huge' }), { hostNetwork: false, storageDriver: 'btrfs', sizeQuota: true }),
    /invalid size "huge"/,
  );
  assert.throws(
    () => refuseUnsupportedSettings(body({ size: '1G', inodes: '9' }), { hostNetwork: false, storageDriver: 'btrfs', sizeQuota: true }),
    /option "inodes" is not supported/,
  );
});

test.run();
