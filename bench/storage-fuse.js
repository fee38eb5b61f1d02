// storage-fuse beside kernel overlayfs and Debian's fuse-overlayfs (a C program), side by
// side in one run, rounds interleaved in a rotating order, on the same lower layer in
// /tmp: a 1 GiB file read cold (echo 3 > /proc/sys/vm/drop_caches before) and warm
// (read again), 20,000 small files (4 KiB, 200 directories) read cold and warm
// (`find -type f -exec cat {} +`: lookup, stat, open, read, close of each), and the
// copy-up of a 100 MB file (its first write, `echo >>`, page cache warm) on a fresh
// upper. Each reader is a process of its own (the FUSE servers serve only). Prints the
// median of each figure per filesystem and storage-fuse's ratio to fuse-overlayfs (the
// issue's target: at least 0.5x its throughput and files/s) with the load average.
// Needs root, /dev/fuse, fuse-overlayfs and `npm run build`; asserts nothing.
// Usage: node bench/storage-fuse.js [rounds]
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { mountAll, mountAllAsync, stopMountHelper, unmountAll } = require('../native/addon');
const { helperCommand } = require('../plugins/storage-fuse');

const rounds = Number(process.argv[2] || 3);
const dir = fs.mkdtempSync('/tmp/berth-bench-fuse-');
const lower = path.join(dir, 'lower');
const BIG = 1 << 30;
const SMALL_FILES = 20_000;
const COPY_UP = 100 * 1000 * 1000;
const helpers = [];

/** Seconds `fn` takes. */
function seconds(fn) {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const dropCaches = () => {
  execFileSync('sync');
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
};
const readBig = (mnt) => execFileSync('dd', [`if=${mnt}/big`, 'of=/dev/null', 'bs=1M'], { stdio: 'ignore' });
const readSmall = (mnt) => execFileSync('sh', ['-c', `find ${mnt}/small -type f -exec cat {} + > /dev/null`]);

function makeLower() {
  fs.mkdirSync(lower);
  const chunk = require('node:crypto').randomBytes(1 << 20);
  const fd = fs.openSync(path.join(lower, 'big'), 'w');
  for (let i = 0; i < BIG / chunk.length; i++) fs.writeSync(fd, chunk);
  fs.closeSync(fd);
  fs.writeFileSync(path.join(lower, 'copy-up'), Buffer.alloc(COPY_UP, 7));
  const small = Buffer.alloc(4096, 'x');
  for (let d = 0; d < 200; d++) {
    const sub = path.join(lower, 'small', String(d));
    fs.mkdirSync(sub, { recursive: true });
    for (let f = 0; f < SMALL_FILES / 200; f++) fs.writeFileSync(path.join(sub, String(f)), small);
  }
}

let uppers = 0;
/** A fresh upper and work directory and mount point. */
function freshDirs(name) {
  const n = ++uppers;
  const d = (x) => path.join(dir, `${name}-${x}-${n}`);
  for (const x of ['upper', 'work', 'mnt']) fs.mkdirSync(d(x));
  return { upper: d('upper'), work: d('work'), mnt: d('mnt') };
}

/** The three filesystems: mount(dirs) mounts on dirs.mnt, unmount(dirs) undoes it. */
const filesystems = {
  overlay: {
    async mount(d) {
      mountAll([{ type: 'overlay', source: 'overlay', options: [`lowerdir=${lower}`, `upperdir=${d.upper}`, `workdir=${d.work}`] }], d.mnt);
    },
    async unmount(d) {
      unmountAll(d.mnt);
    },
  },
  'fuse-overlayfs': {
    async mount(d) {
      // It daemonizes once mounted.
      execFileSync('fuse-overlayfs', ['-o', `lowerdir=${lower},upperdir=${d.upper},workdir=${d.work}`, d.mnt]);
    },
    async unmount(d) {
      execFileSync('fusermount', ['-u', d.mnt]);
    },
  },
  'storage-fuse': {
    async mount(d) {
      const spec = {
        type: 'fuse.berth',
        source: 'berth-fuse-bench',
        options: [`lowerdir=${lower}`, `upperdir=${d.upper}`, `workdir=${d.work}`],
        helper: helperCommand(),
      };
      const mounted = await mountAllAsync([spec], d.mnt, { logPath: `${d.mnt}.log` });
      d.helpers = mounted.helpers;
      helpers.push(...mounted.helpers);
    },
    async unmount(d) {
      for (const h of d.helpers) await stopMountHelper(h);
    },
  },
};

const results = {};
const record = (fsName, what, value) => {
  results[fsName] ??= {};
  results[fsName][what] ??= [];
  results[fsName][what].push(value);
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function round(fsName) {
  const f = filesystems[fsName];
  const d = freshDirs(fsName.replace(/[^a-z]/g, ''));
  await f.mount(d);
  try {
    dropCaches();
    record(fsName, 'big cold MB/s', BIG / 1e6 / seconds(() => readBig(d.mnt)));
    record(fsName, 'big warm MB/s', BIG / 1e6 / seconds(() => readBig(d.mnt)));
    dropCaches();
    record(fsName, 'small cold files/s', SMALL_FILES / seconds(() => readSmall(d.mnt)));
    record(fsName, 'small warm files/s', SMALL_FILES / seconds(() => readSmall(d.mnt)));
    execFileSync('cat', [path.join(d.mnt, 'copy-up')], { stdio: 'ignore' });
    record(fsName, 'copy-up 100 MB ms', 1000 * seconds(() => execFileSync('sh', ['-c', `echo >> ${d.mnt}/copy-up`])));
  } finally {
    await f.unmount(d);
    fs.rmSync(d.upper, { recursive: true, force: true });
  }
}

async function main() {
  const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`storage-fuse bench in ${dir}: making the lower layer (1 GiB file, ${SMALL_FILES} small files, 100 MB file)`);
  makeLower();
  const names = Object.keys(filesystems);
  const loadBefore = load();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < names.length; i++) await round(names[(r + i) % names.length]);
    process.stdout.write(`  round ${r + 1}/${rounds} done\n`);
  }
  const whats = Object.keys(results[names[0]]);
  console.log(
    `\nmedians of ${rounds} rounds (load average before ${loadBefore}, after ${load()}; ${require('node:os').cpus().length} CPUs)`,
  );
  console.log(['', ...names, 'fuse/fuse-overlayfs'].map((s) => s.padEnd(20)).join(''));
  for (const what of whats) {
    const m = names.map((n) => median(results[n][what]));
    const [, fo, sf] = m;
    // For a time, a ratio of throughput: fuse-overlayfs's time over ours.
    const ratio = what.endsWith('ms') ? fo / sf : sf / fo;
    console.log([what, ...m.map((v) => v.toFixed(v < 100 ? 1 : 0)), `${ratio.toFixed(2)}x`].map((s) => String(s).padEnd(20)).join(''));
  }
  console.log('\ntarget (issue 22): storage-fuse at least 0.5x fuse-overlayfs on the big file and on files/s');
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const h of helpers) await stopMountHelper(h).catch(() => {});
    try {
      unmountAll(dir);
    } catch {}
    fs.rmSync(dir, { recursive: true, force: true });
  });
