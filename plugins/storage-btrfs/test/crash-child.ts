// Run by btrfs-driver.test.ts under kill -9: prepare, write, commit and remove snapshots
// without end on the driver root given as argv[2], until it is killed.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BtrfsDriver } from '../src/btrfs-driver.js';
import { probeBtrfs } from '../src/btrfs-support.js';

async function main(): Promise<void> {
  const root = process.argv[2]!;
  mkdirSync(root, { recursive: true });
  const driver = await BtrfsDriver.open(root, { quota: (await probeBtrfs(root)).quota });
  const mnt = path.join(path.dirname(root), `child-mnt-${process.pid}`);
  mkdirSync(mnt, { recursive: true });
  process.stdout.write('ready\n');
  for (let i = 0; ; i++) {
    const parent = (await driver.walk()).find((s) => s.kind === 'committed')?.key;
    const [mount] = await driver.prepare(`a-${process.pid}-${i}`, parent, { sizeBytes: 1 << 30 });
    // Inside the snapshot: a file, and a subvolume of its own, as a container could make.
    writeFileSync(path.join(mount!.source, `f${i}`), String(i));
    execFileSync('btrfs', ['-q', 'subvolume', 'create', path.join(mount!.source, `nested-${process.pid}-${i}`)]);
    if (i % 2 === 0) await driver.commit(`c-${process.pid}-${i}`, `a-${process.pid}-${i}`);
    else await driver.remove(`a-${process.pid}-${i}`);
    const committed = (await driver.walk()).filter((s) => s.kind === 'committed');
    if (committed.length > 3) {
      const leaf = committed.find((s) => !committed.some((o) => o.parent === s.key));
      if (leaf) await driver.remove(leaf.key);
    }
  }
}

main().catch((err) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
