// Run by the storage suite's crash case in a process of its own, killed with SIGKILL at a
// random moment: `node storage-crash-child <plugin module> <driver root> <mount dir>`.
// It initialises the storage plugin the module exports (as the engine would), then
// prepares, writes, commits and removes snapshots without end. It prints `ready` once the
// driver is open. Not part of the package's API.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { AnyPluginManifest, StorageDriver } from '@berth/core';
import { mountAllAsync, stopMountHelper, unmountAll } from '@berth/native';
import { pluginContext } from './plugin-context.js';

async function main(): Promise<void> {
  const [modulePath, root, mountDir] = process.argv.slice(2) as [string, string, string];
  const manifest = (require(modulePath) as { default: AnyPluginManifest }).default;
  const driver = (await manifest.init(pluginContext(root))) as StorageDriver;
  mkdirSync(mountDir, { recursive: true });
  process.stdout.write('ready\n');
  for (let i = 0; ; i++) {
    const committed = (await driver.walk()).filter((s) => s.kind === 'committed');
    const parent = committed[i % Math.max(1, committed.length)]?.key;
    const key = `a-${process.pid}-${i}`;
    const target = path.join(mountDir, String(i));
    mkdirSync(target);
    // A helper spec's helper outlives this process when it is killed; the suite's unmount of
    // the mount directory then makes it exit (the helper contract).
    const { helpers } = await mountAllAsync(await driver.prepare(key, parent), target, { logPath: `${target}.log` });
    writeFileSync(path.join(target, `file-${i}`), String(i).repeat(1000));
    unmountAll(target);
    for (const h of helpers) await stopMountHelper(h);
    if (i % 3 === 2) await driver.remove(key);
    else await driver.commit(`c-${process.pid}-${i}`, key);
    if (committed.length > 4) {
      const leaf = committed.find((s) => !committed.some((o) => o.parent === s.key));
      if (leaf) await driver.remove(leaf.key).catch(() => undefined);
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
