// What the benchmarks share: waiting for a daemon's socket, timing a command, medians,
// a berth-shim's memory, and a dockerd of the benchmark's own to compare against.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

/** Resolves once something accepts connections on the UNIX socket `sock`; rejects after `ms`. */
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

/** Milliseconds `cmd args` took, run to its end with `env` added; throws when it fails. */
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

/** VmRSS (KiB) of a berth-shim whose command line names `dir` (and `marker`, when given). */
function shimRssKiB(dir, marker = '') {
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

const hostState = {};

/**
 * A dockerd of the benchmark's own, on `dir`'s data root and socket, pushed on `started`
 * (the caller stops it by its pid); undefined when no Docker engine is installed.
 * `network: 'default'` runs it as installed, with its bridge and firewall rules — what
 * `docker run` figures are quoted against: dockerd rewrites the host's iptables and
 * ip_forward and creates docker0, so they are saved first and `restoreHost` puts them
 * back once dockerd is gone. `network: 'none'` leaves the host's network alone (no
 * bridge, no iptables, no ip_forward), for figures of the API alone.
 */
async function startDockerd(dir, started, { network }) {
  const dockerd = spawnSync('sh', ['-c', 'command -v dockerd'], { encoding: 'utf8' }).stdout.trim();
  if (!dockerd) return undefined;
  if (network === 'default') {
    for (const tool of ['iptables', 'ip6tables']) {
      const r = spawnSync(`${tool}-save`, [], { encoding: 'utf8' });
      if (r.status === 0) hostState[tool] = r.stdout;
    }
    hostState.ipForward = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    hostState.hadDocker0 = spawnSync('ip', ['link', 'show', 'docker0']).status === 0;
  }
  const sock = path.join(dir, 'docker.sock');
  // biome-ignore format: flag and value pairs
  const args = [
    '--host', `unix://${sock}`,
    '--data-root', path.join(dir, 'docker-data'),
    '--exec-root', path.join(dir, 'docker-exec'),
    '--pidfile', path.join(dir, 'docker.pid'),
  ];
  if (network === 'none') args.push('--bridge', 'none', '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false');
  const proc = spawn(dockerd, args, { stdio: 'ignore' });
  started.push(proc);
  await waitForSocket(sock, 30_000);
  return { sock, pid: proc.pid, env: { DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: path.join(dir, 'docker-config') } };
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

/** Put back the host's firewall, ip_forward and links as a default-network dockerd found them (after it stopped). */
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

module.exports = { median, restoreHost, shimRssKiB, startDockerd, timeOnce, waitForSocket };
