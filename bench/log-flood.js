// A container flooding its json-file log (`yes` at full speed, --log-opt max-size=1m,
// max-file=3) on a berthd of its own: berthd's RSS before, every second while the
// container floods (nobody attached, then a `docker logs -f` reading along), and after;
// the flooding container's berth-shim RSS (it rotates the log); the bytes on disk
// against max-size × max-file; how many lines per second reached the log. Prints
// figures, asserts nothing.
// Usage: node bench/log-flood.js [seconds]   (as root, after npm run build; house style: bench/exec.js)
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { runBench, startBerthd } = require('./support.js');

const repo = path.resolve(__dirname, '..');
const seconds = Number(process.argv[2] || 10);
const dir = fs.mkdtempSync('/tmp/berth-bench-');
const busybox = path.join(repo, 'test/fixtures/.cache/busybox.tar');
const started = [];

const rssKiB = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  } catch {
    return undefined;
  }
};

/** The pid of this run's berth-shim whose command line names `id`. */
function shimPid(id) {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('berth-shim') && cmd.includes(dir) && cmd.includes(id)) return Number(pid);
    } catch {}
  }
  return undefined;
}

const mib = (kib) => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(2)} MiB`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function phase(label, berthd, shim, ms) {
  const samples = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await sleep(1000);
    samples.push(rssKiB(berthd.proc.pid));
  }
  console.log(`berthd RSS ${label.padEnd(28)} ${samples.map((k) => (k / 1024).toFixed(1)).join(' ')} MiB; shim ${mib(rssKiB(shim))}`);
}

async function main() {
  const berthd = await startBerthd(dir, started, { cgroupParent: 'berth-bench' });
  const env = { ...process.env, ...berthd.env };
  const docker = (args) => execFileSync('docker', args, { env, encoding: 'utf8' });
  docker(['load', '-q', '-i', busybox]);
  await sleep(1000);
  console.log(`berthd RSS idle                          ${mib(rssKiB(berthd.proc.pid))}`);
  const id = docker(['run', '-d', '--log-opt', 'max-size=1m', '--log-opt', 'max-file=3', 'busybox', 'yes', 'a line of the flood']).trim();
  const shim = shimPid(id);
  await phase('flooding, nobody reading', berthd, shim, seconds * 1000);
  const follower = spawn('docker', ['logs', '-f', '--tail', '0', id], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  started.push(follower);
  let followed = 0;
  follower.stdout.on('data', (d) => {
    for (const b of d) if (b === 10) followed++;
  });
  await phase('flooding, logs -f reading', berthd, shim, seconds * 1000);
  console.log(`lines followed by logs -f                ${followed} (${Math.round(followed / seconds)}/s)`);
  follower.kill('SIGTERM');
  diskUsage(id);
  docker(['rm', '-f', id]);
  await sleep(2000);
  console.log(`berthd RSS after                         ${mib(rssKiB(berthd.proc.pid))}`);
}

/** The log and its rotated copies, against max-size × max-file. */
function diskUsage(id) {
  const cdir = path.join(dir, 'data', 'containers', id);
  const files = fs.readdirSync(cdir).filter((n) => n.startsWith(`${id}-json.log`));
  const bytes = files.reduce((n, f) => n + fs.statSync(path.join(cdir, f)).size, 0);
  console.log(`log on disk                              ${(bytes / 1048576).toFixed(2)} MiB in ${files.length} files (bound 3.00 MiB)`);
}

runBench(main, started, dir);
