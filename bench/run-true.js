// `berth run --rm busybox true`, end to end through the CLI and berthd, median of N runs;
// and, when a Docker engine is installed, `docker run --rm busybox true` interleaved
// (A B A B) in the same run, on a dockerd this script starts and stops by its pid.
// Also: the resident memory of an idle berth-shim. Prints figures, asserts nothing.
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

function shimRssKiB() {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('berth-shim') || !cmd.includes(dir)) continue;
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
    } catch {}
  }
  return undefined;
}

async function startDockerd() {
  const dockerd = spawnSync('sh', ['-c', 'command -v dockerd'], { encoding: 'utf8' }).stdout.trim();
  if (!dockerd) return undefined;
  const sock = path.join(dir, 'docker.sock');
  const proc = spawn(dockerd, [
    '--host', `unix://${sock}`, '--data-root', path.join(dir, 'docker-data'), '--exec-root', path.join(dir, 'docker-exec'),
    '--pidfile', path.join(dir, 'docker.pid'), '--bridge', 'none', '--iptables=false', '--ip-masq=false',
  ], { stdio: 'ignore' });
  started.push(proc);
  await waitForSocket(sock, 30000);
  const env = { DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: path.join(dir, 'docker-config') };
  execFileSync('docker', ['load', '-q', '-i', busybox], { env: { ...process.env, ...env } });
  return env;
}

async function main() {
  const berthd = spawn(path.join(repo, 'bin/berthd'), [
    '--host', `unix://${berthSock}`, '--data-root', path.join(dir, 'data'), '--exec-root', path.join(dir, 'exec'),
    '--cgroup-parent', 'berth-bench', '--log-level', 'error', '--config-file', path.join(dir, 'none.json'),
  ], { stdio: 'ignore' });
  started.push(berthd);
  await waitForSocket(berthSock, 20000);
  const berthEnv = { BERTH_HOST: `unix://${berthSock}` };
  const berth = path.join(repo, 'bin/berth');
  execFileSync(berth, ['load', '-q', '-i', busybox], { env: { ...process.env, ...berthEnv } });
  const dockerEnv = await startDockerd();

  // Warm both up once (page cache, first layer unpack).
  timeOnce(berth, ['run', '--rm', 'busybox', 'true'], berthEnv);
  if (dockerEnv) timeOnce('docker', ['run', '--rm', 'busybox', 'true'], dockerEnv);
  const b = [];
  const d = [];
  for (let i = 0; i < runs; i++) {
    b.push(timeOnce(berth, ['run', '--rm', 'busybox', 'true'], berthEnv));
    if (dockerEnv) d.push(timeOnce('docker', ['run', '--rm', 'busybox', 'true'], dockerEnv));
  }
  const bn = [];
  for (let i = 0; i < runs; i++) bn.push(timeOnce(berth, ['run', '--rm', '--network', 'none', 'busybox', 'true'], berthEnv));

  execFileSync(berth, ['run', '-d', '--name', 'idle', 'busybox', 'sleep', '300'], { env: { ...process.env, ...berthEnv } });
  await new Promise((r) => setTimeout(r, 500));
  const rss = shimRssKiB();
  execFileSync(berth, ['rm', '-f', 'idle'], { env: { ...process.env, ...berthEnv } });

  console.log(`berth run --rm busybox true            median ${median(b).toFixed(1)} ms  (min ${Math.min(...b).toFixed(1)}, max ${Math.max(...b).toFixed(1)}, n=${runs})`);
  console.log(`berth run --rm --network none ... true median ${median(bn).toFixed(1)} ms`);
  if (dockerEnv) {
    console.log(`docker run --rm busybox true           median ${median(d).toFixed(1)} ms  (min ${Math.min(...d).toFixed(1)}, max ${Math.max(...d).toFixed(1)}, n=${runs})`);
    console.log(`ratio berth/docker                     ${(median(b) / median(d)).toFixed(2)}x  (target <= 0.30x)`);
  } else {
    console.log('docker: no Docker engine installed (apt-get install docker.io to compare)');
  }
  console.log(`idle berth-shim RSS                    ${rss === undefined ? 'not found' : `${(rss / 1024).toFixed(2)} MiB`}  (target < 2 MiB)`);
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
    spawnSync('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
