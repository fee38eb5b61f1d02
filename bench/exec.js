// `docker exec <running container> true` through the real docker CLI against berthd,
// median of N runs; and, when a Docker engine is installed, the same against a dockerd
// this script starts (its own data root; the host's firewall restored after; stopped by
// its pid), interleaved A B A B in the same run, with the ratio. Also: the resident
// memory of an exec's berth-shim. Prints figures, asserts nothing.
// Usage: node bench/exec.js [runs]   (house style: bench/run-true.js)
'use strict';
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const repo = path.resolve(__dirname, '..');
const runs = Number(process.argv[2] || 20);
const dir = fs.mkdtempSync('/tmp/berth-bench-');
const berthSock = path.join(dir, 'berthd.sock');
const busybox = path.join(repo, 'test/fixtures/.cache/busybox.tar');
const started = [];

function waitForSocket(sock, ms) {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(sock);
      s.on('connect', () => {
        s.destroy();
        resolve();
      });
      s.on('error', () => (Date.now() > deadline ? reject(new Error(`no daemon on ${sock}`)) : setTimeout(attempt, 50)));
    };
    attempt();
  });
}

function timeOnce(cmd, args, env) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** VmRSS of the berth-shim of this run whose command line includes `marker` (`--exec`: an exec's). */
function shimRssKiB(marker) {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('berth-shim') || !cmd.includes(dir) || !cmd.includes(marker)) continue;
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
    } catch {}
  }
  return undefined;
}

/**
 * Docker as installed runs with its default bridge and firewall rules: that is the
 * `docker run --rm busybox true` the targets are quoted against. dockerd rewrites the
 * host's iptables and ip_forward and creates docker0, so this saves them first and
 * `restoreHost` puts them back after dockerd (stopped by its pid) is gone.
 */
const hostState = {};
async function startDockerd() {
  const dockerd = spawnSync('sh', ['-c', 'command -v dockerd'], { encoding: 'utf8' }).stdout.trim();
  if (!dockerd) return undefined;
  for (const tool of ['iptables', 'ip6tables']) {
    const r = spawnSync(`${tool}-save`, [], { encoding: 'utf8' });
    if (r.status === 0) hostState[tool] = r.stdout;
  }
  hostState.ipForward = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
  hostState.hadDocker0 = spawnSync('ip', ['link', 'show', 'docker0']).status === 0;
  const sock = path.join(dir, 'docker.sock');
  const proc = spawn(
    dockerd,
    [
      '--host',
      `unix://${sock}`,
      '--data-root',
      path.join(dir, 'docker-data'),
      '--exec-root',
      path.join(dir, 'docker-exec'),
      '--pidfile',
      path.join(dir, 'docker.pid'),
    ],
    { stdio: 'ignore' },
  );
  started.push(proc);
  await waitForSocket(sock, 30000);
  const env = { DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: path.join(dir, 'docker-config') };
  execFileSync('docker', ['load', '-q', '-i', busybox], { env: { ...process.env, ...env } });
  return env;
}

/** iptables-restore input that empties every table named in `save`, built-in chains at ACCEPT. */
function emptyTables(save) {
  const out = [];
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) out.push(line);
    else if (line.startsWith(':') && line.split(' ')[1] !== '-') out.push(`${line.split(' ')[0]} ACCEPT [0:0]`);
    else if (line === 'COMMIT') out.push(line);
  }
  return `${out.join('\n')}\n`;
}

function restoreHost() {
  if (hostState.ipForward === undefined) return;
  for (const tool of ['iptables', 'ip6tables']) {
    if (hostState[tool] === undefined) continue;
    // Empty every table dockerd touched (built-in chains back to ACCEPT, its chains gone),
    // then load what was there before; restoring an empty save alone would change nothing.
    const now = spawnSync(`${tool}-save`, [], { encoding: 'utf8' }).stdout ?? '';
    spawnSync(`${tool}-restore`, [], { input: emptyTables(now) });
    if (hostState[tool].trim()) spawnSync(`${tool}-restore`, [], { input: hostState[tool] });
  }
  fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', hostState.ipForward);
  if (!hostState.hadDocker0) spawnSync('ip', ['link', 'del', 'docker0']);
}

async function main() {
  const daemonLog = fs.openSync(path.join(dir, 'berthd.log'), 'w');
  // biome-ignore format: flag and value pairs
  const berthd = spawn(
    path.join(repo, 'bin/berthd'),
    [
      '--host', `unix://${berthSock}`,
      '--data-root', path.join(dir, 'data'),
      '--exec-root', path.join(dir, 'exec'),
      '--cgroup-parent', 'berth-bench',
      '--log-level', 'warn',
      '--config-file', path.join(dir, 'none.json'),
    ],
    { stdio: ['ignore', daemonLog, daemonLog] },
  );
  started.push(berthd);
  await waitForSocket(berthSock, 20000);
  const berthEnv = { DOCKER_HOST: `unix://${berthSock}`, DOCKER_CONFIG: path.join(dir, 'docker-config') };
  const docker = (env, args) => execFileSync('docker', args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  docker(berthEnv, ['load', '-q', '-i', busybox]);
  docker(berthEnv, ['run', '-d', '--name', 'target', 'busybox', 'sleep', '3000']);
  const dockerEnv = await startDockerd();
  if (dockerEnv) docker(dockerEnv, ['run', '-d', '--name', 'target', 'busybox', 'sleep', '3000']);

  // Warm both up once, then interleave so the machine's noise falls on both alike.
  timeOnce('docker', ['exec', 'target', 'true'], berthEnv);
  if (dockerEnv) timeOnce('docker', ['exec', 'target', 'true'], dockerEnv);
  const b = [];
  const d = [];
  for (let i = 0; i < runs; i++) {
    b.push(timeOnce('docker', ['exec', 'target', 'true'], berthEnv));
    if (dockerEnv) d.push(timeOnce('docker', ['exec', 'target', 'true'], dockerEnv));
  }

  docker(berthEnv, ['exec', '-d', 'target', 'sleep', '30']);
  await new Promise((r) => setTimeout(r, 500));
  const execRss = shimRssKiB('--exec');
  const containerRss = shimRssKiB('--bundle');
  docker(berthEnv, ['rm', '-f', 'target']);
  if (dockerEnv) docker(dockerEnv, ['rm', '-f', 'target']);

  const line = (label, xs) =>
    console.log(
      `${label.padEnd(40)} median ${median(xs).toFixed(1)} ms  (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}, n=${xs.length})`,
    );
  line('docker exec target true  (berthd)', b);
  if (dockerEnv) {
    line('docker exec target true  (dockerd)', d);
    console.log(`ratio berthd / dockerd                   ${(median(b) / median(d)).toFixed(2)}x  (target <= 0.30x)`);
  } else {
    console.log('dockerd: no Docker engine installed (apt-get install docker.io to compare)');
  }
  const mib = (kib) => (kib === undefined ? 'not found' : `${(kib / 1024).toFixed(2)} MiB`);
  console.log(`berth-shim RSS: an exec's ${mib(execRss)}, its container's ${mib(containerRss)}  (target < 2 MiB)`);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const p of started.reverse()) {
      if (p.exitCode !== null) continue;
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10000))]);
    }
    restoreHost();
    spawnSync('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
