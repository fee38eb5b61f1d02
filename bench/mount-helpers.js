// What supervising mount helpers costs, through the built packages (no daemon): the time
// to mount one union of two layers by kernel overlayfs (mountAll), by Debian's
// fuse-overlayfs as a mount helper (native's mountAllAsync: spawn, mount, `ready` on fd 3)
// and through the engine's DriverMounts (the same, plus the ledger's write-ahead records
// and the lifeline FIFO), and the time to unmount each (DriverMounts: until the helper is
// gone); rounds interleaved, medians printed. Then the cost of watching: this process's
// CPU time over 5 s while DriverMounts watches `count` live helpers (their lifelines in
// the event loop: nothing polls), and the descriptors that takes. Asserts nothing.
// Usage: node bench/mount-helpers.js [rounds] [count]     (after `npm run build`)
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const repo = path.resolve(__dirname, '..');
const native = require('../native/addon');
const { DriverMounts } = require('../packages/engine');
const { silentLogger } = require('../packages/core');

const rounds = Number(process.argv[2] || 20);
const count = Number(process.argv[3] || 50);
const helper = path.join(repo, 'test/fixtures/fuse-overlayfs-helper.sh');
const dir = fs.mkdtempSync('/tmp/berth-bench-mount-helpers-');

function layers(name) {
  const base = path.join(dir, name);
  for (const d of ['l1', 'l2', 'upper', 'work', 'target']) fs.mkdirSync(path.join(base, d), { recursive: true });
  fs.writeFileSync(path.join(base, 'l1', 'a'), 'a');
  fs.writeFileSync(path.join(base, 'l2', 'b'), 'b');
  const options = [`lowerdir=${base}/l2:${base}/l1`, `upperdir=${base}/upper`, `workdir=${base}/work`];
  return { target: path.join(base, 'target'), options };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

async function main() {
  const mounts = new DriverMounts({ execRoot: path.join(dir, 'exec') }, silentLogger);
  const times = { overlay: [], helper: [], engine: [], overlayOff: [], helperOff: [], engineOff: [] };
  for (let r = 0; r < rounds; r++) {
    const k = layers(`k${r}`);
    let t0 = process.hrtime.bigint();
    native.mountAll([{ type: 'overlay', source: 'overlay', options: k.options }], k.target);
    times.overlay.push(ms(t0));
    t0 = process.hrtime.bigint();
    native.unmountAll(k.target);
    times.overlayOff.push(ms(t0));

    const h = layers(`h${r}`);
    const spec = { type: 'fuse.fuse-overlayfs', source: 'fuse-overlayfs', options: h.options, helper: [helper] };
    t0 = process.hrtime.bigint();
    const { helpers } = await native.mountAllAsync([spec], h.target, { logPath: path.join(dir, `h${r}.log`) });
    times.helper.push(ms(t0));
    t0 = process.hrtime.bigint();
    await native.stopMountHelper(helpers[0]);
    times.helperOff.push(ms(t0));

    const e = layers(`e${r}`);
    t0 = process.hrtime.bigint();
    await mounts.mount([{ ...spec, options: e.options }], e.target, { kind: 'operation', purpose: 'bench' });
    times.engine.push(ms(t0));
    t0 = process.hrtime.bigint();
    await mounts.unmount(e.target);
    times.engineOff.push(ms(t0));
  }
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; ${rounds} rounds, medians in ms`,
  );
  console.log(
    `mount:   kernel overlayfs ${median(times.overlay).toFixed(2)}   fuse-overlayfs helper ${median(times.helper).toFixed(2)}   through DriverMounts ${median(times.engine).toFixed(2)}`,
  );
  console.log(
    `unmount: kernel overlayfs ${median(times.overlayOff).toFixed(2)}   fuse-overlayfs helper ${median(times.helperOff).toFixed(2)}   through DriverMounts ${median(times.engineOff).toFixed(2)}`,
  );

  const targets = [];
  for (let i = 0; i < count; i++) {
    const w = layers(`w${i}`);
    await mounts.mount([{ type: 'fuse.fuse-overlayfs', source: 'x', options: w.options, helper: [helper] }], w.target, {
      kind: 'operation',
      purpose: 'bench',
    });
    targets.push(w.target);
  }
  const fds = fs.readdirSync('/proc/self/fd').length;
  const before = process.cpuUsage();
  await new Promise((r) => setTimeout(r, 5000));
  const used = process.cpuUsage(before);
  console.log(
    `watching ${mounts.helperCount} helpers for 5 s: ${((used.user + used.system) / 1000).toFixed(1)} ms of CPU in this process, ${fds} descriptors open`,
  );
  for (const t of targets) await mounts.unmount(t);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    native.unmountAll(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  });
