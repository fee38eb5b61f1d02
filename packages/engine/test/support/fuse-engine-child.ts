import * as path from 'node:path';
import none from '@berth/network-none';
import runc from '@berth/runtime-oci';
import { createEngine, DriverMountsToken } from '../../src/index.js';
import { fuseOverlayfsTestDriverName, fuseOverlayfsTestStorage } from './fuse-overlayfs-storage.js';

/**
 * An engine in a process of its own on `<dir>/data` with the fuse-overlayfs test driver,
 * so that a test can SIGKILL it as kill -9 would berthd. Usage:
 *   node -r tsx/cjs fuse-engine-child.ts <dir> <cgroup-parent> run
 *     starts a container that writes /tick every 100 ms, prints "running <id> <helper pid>", waits
 *   node -r tsx/cjs fuse-engine-child.ts <dir> <cgroup-parent> churn
 *     prints "ready", then creates, starts, stops and removes containers without end, printing
 *     "op <create|start|stop|remove>" as each begins
 * (busybox must already be loaded in that data root).
 */
async function main(): Promise<void> {
  const [dir, cgroupParent, mode] = process.argv.slice(2) as [string, string, string];
  const engine = await createEngine({
    dataRoot: path.join(dir, 'data'),
    execRoot: path.join(dir, 'exec'),
    cgroupParent,
    plugins: [fuseOverlayfsTestStorage, runc, none],
    storageDriver: fuseOverlayfsTestDriverName,
  });
  if (mode === 'run') {
    const script = 'while date > /tick; do usleep 100000; done';
    const id = (await engine.containers.create({ Image: 'busybox', Cmd: ['sh', '-c', script] })).Id;
    await engine.containers.start(id);
    const helper = engine.di.resolve(DriverMountsToken).helperOf(path.join(dir, 'data', 'containers', id, 'rootfs'));
    process.stdout.write(`running ${id} ${helper?.pid}\n`);
    await new Promise(() => {});
  }
  process.stdout.write('ready\n');
  // Each operation is announced before it begins ("op create", ...), so the test can kill
  // this process in the middle of the one it chooses. Some containers are left created,
  // some running, some exited: the kills find every state.
  const op = (what: string) => process.stdout.write(`op ${what}\n`);
  for (let i = 0; ; i++) {
    op('create');
    const id = (await engine.containers.create({ Image: 'busybox', Cmd: ['sleep', i % 2 ? '0.1' : '30'] })).Id;
    if (i % 5 === 4) continue;
    op('start');
    await engine.containers.start(id);
    if (i % 3 === 0) {
      op('stop');
      await engine.containers.stop(id, 0);
    }
    if (i % 4 === 1) {
      op('remove');
      await engine.containers.remove(id, { force: true });
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
