import * as assert from 'uvu/assert';
import { daemonSuite } from './harness';

/**
 * What only the btrfs driver does, through the real docker CLI on a berthd whose data
 * root is a loop-mounted btrfs of its own: `docker info` names it, `--storage-opt size=`
 * is a qgroup limit a container hits from inside. (run, commit, diff and cp under btrfs
 * are containers.test.ts and filesystem.test.ts; exec, volumes and a berthd restart
 * storage-drivers.test.ts: all three run once per driver.)
 */
const test = daemonSuite('storage driver btrfs', 'btrfs');

test('docker info reports the btrfs driver with its quotas', async ({ daemon }) => {
  const info = JSON.parse(await daemon.ok(['info', '--format', '{{json .}}'])) as { Driver: string; DriverStatus: string[][] };
  assert.is(info.Driver, 'btrfs');
  assert.ok(
    info.DriverStatus.some(([k, v]) => k === 'Quotas' && v.startsWith('enabled')),
    JSON.stringify(info.DriverStatus),
  );
});

test('--storage-opt size= limits what a container can write: past it, writes fail inside the container', async ({ daemon }) => {
  const small = await daemon.docker([
    'run',
    '--rm',
    '--storage-opt',
    'size=64M',
    'busybox',
    'sh',
    '-c',
    'dd if=/dev/zero of=/small bs=1M count=8 && sync',
  ]);
  assert.is(small.code, 0, small.stderr);
  const big = await daemon.docker([
    'run',
    '--rm',
    '--storage-opt',
    'size=64M',
    'busybox',
    'sh',
    '-c',
    'dd if=/dev/zero of=/big bs=1M count=128 && sync',
  ]);
  assert.is.not(big.code, 0, 'writing 128 MiB into a 64 MiB container succeeded');
  assert.match(big.stderr, /Disk quota exceeded|No space left on device/);
});

test('a bad --storage-opt size= or an unknown option is refused before anything is made', async ({ daemon }) => {
  const bad = await daemon.docker(['create', '--storage-opt', 'size=lots', 'busybox']);
  assert.is.not(bad.code, 0);
  assert.match(bad.stderr, /invalid size "lots"/);
  const unknown = await daemon.docker(['create', '--storage-opt', 'inodes=5', 'busybox']);
  assert.is.not(unknown.code, 0);
  assert.match(unknown.stderr, /option "inodes" is not supported/);
  assert.is(await daemon.ok(['ps', '-aq']), '');
});

test.run();
