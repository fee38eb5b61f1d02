// Create-to-running on a 10-layer image under each storage driver, side by side in one
// run: a berthd on overlay, one on btrfs, one on vfs and one on fuse, each with its data
// root on a 4 GiB image file of its own, loop-mounted (ext4, btrfs for btrfs), so all
// pay the same loop device over the same disk; rounds interleaved in a rotating order. Each
// round times `docker run -d <image> sleep 600` (the docker CLI: create, snapshot, mount,
// start; it returns once the container runs), then removes the container untimed. The
// image is busybox plus nine committed layers, made on each daemon before the rounds.
// Then, through the drivers themselves (the built plugins, no daemon), on the same loop
// filesystems: the copy-up of a 100 MB file of a lower layer (its first write; vfs copied
// it at prepare, untimed) and a read of 20,000 small files of a lower layer in a new
// container's snapshot (page cache warm where the driver shares it: a btrfs snapshot's
// files are new inodes), median of 5 each (storage-fuse's reads and copy-up beside
// fuse-overlayfs: bench/storage-fuse.js). No dockerd. Prints figures, asserts nothing;
// the target is btrfs within 1.5x overlay.
// Usage: node bench/storage-drivers.js [rounds]
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { median, runBench, startBerthd, timeOnce } = require('./support.js');

const repo = path.resolve(__dirname, '..');
const rounds = Number(process.argv[2] || 15);
const dir = fs.mkdtempSync('/tmp/berth-bench-');
const busybox = path.join(repo, 'test/fixtures/.cache/busybox.tar');
const started = [];
const daemons = [];
const loopDevices = [];

/** A 4 GiB sparse image of filesystem `type`, loop-mounted on `target` (a berthd's data root). */
function mountLoop(type, target) {
  const image = path.join(dir, `${path.basename(path.dirname(target))}-${type}.img`);
  execFileSync('truncate', ['-s', '4G', image]);
  execFileSync(`mkfs.${type}`, ['-q', image], { stdio: 'ignore' });
  const device = execFileSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).trim();
  loopDevices.push(device);
  fs.mkdirSync(target, { recursive: true });
  execFileSync('mount', ['-t', type, device, target]);
}

async function main() {
  mountLoop('ext4', path.join(dir, 'o', 'data'));
  mountLoop('btrfs', path.join(dir, 'b', 'data'));
  mountLoop('ext4', path.join(dir, 'v', 'data'));
  mountLoop('ext4', path.join(dir, 'f', 'data'));
  for (const [tag, driver] of [
    ['o', 'overlay'],
    ['b', 'btrfs'],
    ['v', 'vfs'],
    ['f', 'fuse'],
  ]) {
    const d = await startBerthd(dir, started, { cgroupParent: `berth-bench-storage-${tag}`, tag, args: ['--storage-driver', driver] });
    // The docker CLI: berth's own CLI has no `commit`.
    const berth = (args) => execFileSync('docker', args, { env: { ...process.env, ...d.env }, encoding: 'utf8' });
    berth(['load', '-q', '-i', busybox]);
    let image = 'busybox';
    for (let i = 1; i < 10; i++) {
      berth(['run', '--name', `layer-${i}`, image, 'sh', '-c', `echo ${i} > /layer-${i}`]);
      berth(['commit', `layer-${i}`, `ten-layers:${i}`]);
      berth(['rm', `layer-${i}`]);
      image = `ten-layers:${i}`;
    }
    const layers = JSON.parse(berth(['image', 'inspect', image]))[0].RootFS.Layers.length;
    daemons.push({ driver, d, berth, image, layers, times: [] });
  }
  for (let round = 0; round < rounds; round++) {
    // A rotating order: no daemon always goes first or after the same one.
    for (const daemon of daemons.map((_, i) => daemons[(i + round) % daemons.length])) {
      const name = `bench-${round}`;
      daemon.times.push(timeOnce('docker', ['run', '-d', '--name', name, daemon.image, 'sleep', '600'], daemon.d.env));
      daemon.berth(['rm', '-f', name]);
    }
  }
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(
    `create-to-running (docker run -d) on a ${daemons[0].layers}-layer image, ${rounds} rounds interleaved; load average ${load}`,
  );
  for (const daemon of daemons) {
    const sorted = [...daemon.times].sort((a, b) => a - b);
    console.log(
      `  ${daemon.driver.padEnd(8)} median ${median(daemon.times).toFixed(1)} ms   min ${sorted[0].toFixed(1)} ms   max ${sorted[sorted.length - 1].toFixed(1)} ms`,
    );
  }
  const ratio = median(daemons[1].times) / median(daemons[0].times);
  console.log(`  btrfs / overlay: ${ratio.toFixed(2)}x (target: within 1.5x)`);
  console.log(
    `  vfs / overlay: ${(median(daemons[2].times) / median(daemons[0].times)).toFixed(2)}x (a full copy of the image per container)`,
  );
  console.log(
    `  fuse / overlay: ${(median(daemons[3].times) / median(daemons[0].times)).toFixed(2)}x (a mount helper process started per container)`,
  );
  await driverFigures();
}

/** Copy-up and small-file reads through each driver, in this process, beside each other. */
async function driverFigures() {
  const native = require('../native/addon');
  const drivers = [
    ['overlay', require('../plugins/storage-overlay').OverlayDriver, path.join(dir, 'o', 'data', 'bench-overlay')],
    ['btrfs', require('../plugins/storage-btrfs').BtrfsDriver, path.join(dir, 'b', 'data', 'bench-btrfs')],
    ['vfs', require('../plugins/storage-vfs').VfsDriver, path.join(dir, 'v', 'data', 'bench-vfs')],
  ];
  const results = [];
  for (const [name, Driver, root] of drivers) {
    const driver = await Driver.open(root, { quota: false });
    const mnt = (n) => {
      const target = path.join(root, `mnt-${n}`);
      fs.mkdirSync(target, { recursive: true });
      return target;
    };
    const base = mnt('base');
    native.mountAll(await driver.prepare('base'), base);
    fs.writeFileSync(path.join(base, 'big'), Buffer.alloc(100 << 20, 7));
    for (let d = 0; d < 200; d++) {
      fs.mkdirSync(path.join(base, 'small', String(d)), { recursive: true });
      for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(base, 'small', String(d), String(f)), `file ${d}/${f}\n`);
    }
    native.unmountAll(base);
    await driver.commit('base-c', 'base');
    const copyUp = [];
    const reads = [];
    for (let round = 0; round < 5; round++) {
      const target = mnt(`c${round}`);
      native.mountAll(await driver.prepare(`c${round}`, 'base-c'), target);
      let t = performance.now();
      const fd = fs.openSync(path.join(target, 'big'), 'r+');
      fs.writeSync(fd, Buffer.from('x'), 0, 1, 0);
      fs.closeSync(fd);
      copyUp.push(performance.now() - t);
      t = performance.now();
      let bytes = 0;
      for (const d of fs.readdirSync(path.join(target, 'small'))) {
        for (const f of fs.readdirSync(path.join(target, 'small', d))) bytes += fs.readFileSync(path.join(target, 'small', d, f)).length;
      }
      reads.push(performance.now() - t);
      if (bytes === 0) throw new Error('read nothing');
      native.unmountAll(target);
      await driver.remove(`c${round}`);
    }
    await driver.remove('base-c');
    await driver.close?.();
    results.push({ name, copyUp: median(copyUp), reads: median(reads) });
  }
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`through the drivers (medians of 5; load average ${load}):`);
  for (const r of results) {
    console.log(
      `  ${r.name.padEnd(8)} copy-up of a 100 MB file ${r.copyUp.toFixed(1)} ms   20,000 small files read (warm) ${r.reads.toFixed(0)} ms`,
    );
  }
}

runBench(main, started, dir, () => {
  for (const { berth } of daemons) {
    try {
      const ids = berth(['ps', '-aq']).split('\n').filter(Boolean);
      if (ids.length) berth(['rm', '-f', ...ids]);
    } catch {}
  }
}).finally(() => {
  // stopAndClean unmounted the data roots (lazily): detach the loop devices by device.
  for (const device of loopDevices) execFileSync('losetup', ['-d', device]);
});
