import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { suiteTimeout } from '@berth/testkit/timeout';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnBerthd } from './berthd-process';
import { cgroupDirs, daemonSuite, storageDriversOfHost } from './harness';
import { cleanUpNetwork, daemonNetwork } from './network-isolation';

/**
 * The container work containers.test.ts and filesystem.test.ts do not cover, once per
 * storage driver the host supports (storageDriversOfHost; the same behaviour whatever
 * backs the root): exec into a running
 * container's root, volumes (named, anonymous, an image's content copied into an empty
 * one) beside its writable layer, a berthd restart under a running container whose root
 * stays, stop and start keeping the layer; and `--storage-opt size=`: refused naming the
 * driver where it has no quotas, nothing created, enforced where it has. Kept short:
 * each driver's suite is one berthd and a handful of containers.
 */
function driverSuite(driver: string, sizeQuota: boolean): void {
  const test = daemonSuite(`container work on ${driver}`, driver);

  test('exec sees and changes the running root; volumes sit beside the layer; a restarted berthd keeps the root; stop/start keeps the layer', async ({
    daemon,
  }) => {
    await daemon.ok([
      'run',
      '-d',
      '--name',
      'w',
      '-v',
      'named:/named',
      '-v',
      '/anon',
      'busybox',
      'sh',
      '-c',
      'echo base > /layer; sleep 600',
    ]);
    assert.is(await daemon.ok(['exec', 'w', 'sh', '-c', 'until [ -f /layer ]; do sleep 0.05; done; cat /layer']), 'base');
    await daemon.ok(['exec', 'w', 'sh', '-c', 'echo exec > /layer2; echo v > /named/f; echo a > /anon/f; rm /etc/group']);
    // The volume's data is the volume's, not the layer's: another container sees it.
    assert.is(await daemon.ok(['run', '--rm', '-v', 'named:/n', 'busybox', 'cat', '/n/f']), 'v');
    const diff = (await daemon.ok(['diff', 'w'])).split('\n');
    for (const line of ['A /layer', 'A /layer2', 'D /etc/group']) assert.ok(diff.includes(line), `${line} in ${diff.join(', ')}`);
    assert.not.ok(
      diff.some((l) => l.startsWith('A /named/') || l.startsWith('A /anon/')),
      `volume files are not layer changes: ${diff.join(', ')}`,
    );
    // berthd killed and started again: the container runs on with its root.
    await daemon.kill('SIGKILL');
    await daemon.start();
    assert.is(await daemon.ok(['exec', 'w', 'cat', '/layer2']), 'exec');
    await daemon.ok(['stop', '-t', '0', 'w']);
    await daemon.ok(['start', 'w']);
    assert.is(
      await daemon.ok(['exec', 'w', 'sh', '-c', 'cat /layer2 /named/f /anon/f; test ! -e /etc/group && echo gone']),
      'exec\nv\na\ngone',
    );
    await daemon.ok(['rm', '-f', '-v', 'w']);
    await daemon.ok(['volume', 'rm', 'named']);
  });

  test(
    sizeQuota
      ? '--storage-opt size= is accepted (its enforcement: storage-btrfs.test.ts)'
      : '--storage-opt size= is refused naming the driver, and nothing is created',
    async ({ daemon }) => {
      const r = await daemon.docker(['run', '--rm', '--storage-opt', 'size=32M', 'busybox', 'true']);
      if (sizeQuota) {
        assert.is(r.code, 0, r.stderr);
        return;
      }
      assert.is(r.code, 125, r.stderr);
      assert.match(r.stderr, new RegExp(`size limits are not supported by the ${driver} storage driver`));
      assert.is(await daemon.ok(['ps', '-aq']), '');
      assert.equal(readdirSync(path.join(daemon.dataRoot, 'containers')), []);
    },
  );

  test.run();
}

// btrfs enforces --storage-opt size= (qgroups); the others refuse it.
for (const driver of storageDriversOfHost()) driverSuite(driver, driver === 'btrfs');

/** berthd with an explicit `--storage-driver` on a data root where it cannot work: it fails at start, with the reason. */
const start = suite('an explicit storage driver that cannot work');
suiteTimeout(start, 30_000);

function startBerthd(dir: string, driver: string): Promise<{ code: number | null; log: string }> {
  const suffix = path.basename(dir).slice(-6);
  const layout = {
    dir,
    socket: path.join(dir, 'berthd.sock'),
    dataRoot: path.join(dir, 'data'),
    execRoot: path.join(dir, 'exec'),
    cgroupParent: `berth-e2e-${suffix}`,
    storageDriver: driver,
    network: daemonNetwork('be2e', suffix),
  };
  const child = spawnBerthd(layout, 'info');
  let log = '';
  child.stdout?.on('data', (d) => (log += d));
  child.stderr?.on('data', (d) => (log += d));
  const timer = setTimeout(() => child.kill('SIGTERM'), 20_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      // A daemon that never started may still have made its bridge and table: removed by name, ours alone.
      cleanUpNetwork(layout.network);
      resolve({ code, log });
    }),
  );
}

start(
  'btrfs on a data root that is not on btrfs, and an unknown driver: exit 1 naming the driver and why, no state of it made',
  async () => {
    const dir = mkdtempSync('/tmp/berth-e2e-explicit-');
    try {
      const btrfs = await startBerthd(dir, 'btrfs');
      assert.is(btrfs.code, 1, btrfs.log);
      assert.match(btrfs.log, /storage driver btrfs was chosen with --storage-driver, but it cannot be used here: .*btrfs/);
      const unknown = await startBerthd(dir, 'zfs');
      assert.is(unknown.code, 1, unknown.log);
      assert.match(unknown.log, /storage driver zfs was chosen with --storage-driver, but no such plugin is loaded/);
      assert.not.ok(existsSync(path.join(dir, 'berthd.sock')), 'it never listened');
      assert.equal(cgroupDirs(`berth-e2e-${path.basename(dir).slice(-6)}`), [], 'no cgroup left by the refused start');
      const state = existsSync(path.join(dir, 'data', 'storage')) ? readdirSync(path.join(dir, 'data', 'storage')) : [];
      assert.ok(
        state.every((name) => readdirSync(path.join(dir, 'data', 'storage', name)).length === 0),
        `no driver state made: ${state.join(', ')}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

start.run();
