/**
 * Time `prepare` + mount of a container snapshot on a one-layer, busybox-sized image
 * (the static /bin/busybox, a hard link per applet, a few /etc files), overlay against
 * vfs, interleaved A B A B because this VM is noisy. Prints medians in ms.
 *
 *   npm run bench -w @berth/storage-overlay [-- <rounds>]
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { EventBus, requiredPlugins, type StorageDriver, silentLogger } from '@berth/core';
import { mountAll, unmountAll } from '@berth/native';
import overlay from '@berth/storage-overlay';
import vfs from '@berth/storage-vfs';

const rounds = Number(process.argv[2] ?? 30);

/** Returns the number of paths made. */
async function populateBusybox(target: string): Promise<number> {
  for (const dir of ['bin', 'etc', 'root', 'tmp', 'var/spool/mail', 'home', 'usr/sbin'])
    await fs.mkdir(path.join(target, dir), { recursive: true });
  await fs.copyFile('/bin/busybox', path.join(target, 'bin/busybox'));
  await fs.chmod(path.join(target, 'bin/busybox'), 0o755);
  for (const applet of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).trim().split('\n')) {
    if (applet !== 'busybox') await fs.link(path.join(target, 'bin/busybox'), path.join(target, 'bin', applet));
  }
  await fs.writeFile(path.join(target, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n');
  await fs.writeFile(path.join(target, 'etc/group'), 'root:x:0:\nnobody:x:65534:\n');
  await fs.chmod(path.join(target, 'tmp'), 0o1777);
  return (await fs.readdir(target, { recursive: true })).length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  const dir = await fs.mkdtemp('/tmp/bsto-bench-');
  const target = path.join(dir, 'mnt');
  await fs.mkdir(target);
  try {
    const drivers: Array<[string, StorageDriver]> = [];
    let entries = 0;
    for (const plugin of [overlay, vfs]) {
      const root = path.join(dir, plugin.name);
      await fs.mkdir(root);
      const driver = await plugin.init({
        root,
        execRoot: root,
        dataRoot: dir,
        cgroupParent: 'berth-unused',
        config: {},
        events: new EventBus(),
        log: silentLogger,
        plugins: requiredPlugins(`storage/${plugin.name}`, [], () => undefined),
      });
      mountAll(await driver.prepare('extract'), target);
      entries = await populateBusybox(target);
      unmountAll(target);
      await driver.commit('busybox', 'extract');
      drivers.push([plugin.name, driver]);
    }
    const times = new Map<string, number[]>(drivers.map(([name]) => [name, []]));
    for (let i = 0; i < rounds; i++) {
      for (const [name, driver] of drivers) {
        const start = process.hrtime.bigint();
        mountAll(await driver.prepare(`c${i}`, 'busybox'), target);
        times.get(name)!.push(Number(process.hrtime.bigint() - start) / 1e6);
        unmountAll(target);
        await driver.remove(`c${i}`);
      }
    }
    const usage = await drivers[0]![1].usage('busybox');
    console.log(`parent: ${entries} paths, ${usage.inodes} inodes, ${(usage.bytes / 1e6).toFixed(2)} MB; ${rounds} rounds, interleaved`);
    for (const [name, xs] of times) {
      console.log(
        `${name.padEnd(8)} prepare+mount median ${median(xs).toFixed(2)} ms  (min ${Math.min(...xs).toFixed(2)}, max ${Math.max(...xs).toFixed(2)})`,
      );
    }
    const [o, v] = [median(times.get('overlay')!), median(times.get('vfs')!)];
    console.log(`vfs / overlay: ${(v / o).toFixed(1)}x`);
  } finally {
    unmountAll(dir);
    await fs.rm(dir, { recursive: true, force: true });
  }
}

void main();
