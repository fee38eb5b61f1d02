// What the benchmarks share: a berthd of the benchmark's own and its clean-up, waiting for
// a daemon's socket, timing a command, medians, a berth-shim's memory, and a dockerd of
// the benchmark's own to compare against.
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
    hostState.iptablesTables = iptablesTables();
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
  // An iptables-nft table dockerd made (a host with nftables only has none) goes: emptied,
  // it would still be listed, and hooked into every packet's path.
  for (const table of iptablesTables()) {
    if (!hostState.iptablesTables.includes(table)) spawnSync('nft', ['delete', 'table', ...table.split(' ')]);
  }
  fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', hostState.ipForward);
  if (!hostState.hadDocker0) spawnSync('ip', ['link', 'del', 'docker0']);
}

/** The nftables tables that iptables-nft manages (its table names in the ip and ip6 families), as "family name". */
function iptablesTables() {
  const tables = spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout ?? '';
  return [...tables.matchAll(/^table (ip6?) (filter|nat|mangle|raw|security)$/gm)].map((m) => `${m[1]} ${m[2]}`);
}

/** The suffix of a benchmark directory (`/tmp/berth-bench-XXXXXX`) that names its network objects. */
function benchSuffix(dir) {
  return path
    .basename(dir)
    .slice(-6)
    .replace(/[^A-Za-z0-9]/g, '');
}

/** A /21 of 10.199.0.0/16 that no host route overlaps (other daemons' bridges are routes). */
function freeBenchPool() {
  const toNumber = (a) => a.split('.').reduce((n, b) => n * 256 + Number(b), 0);
  const routes = [];
  for (const line of (spawnSync('ip', ['-4', '-o', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).stdout ?? '').split('\n')) {
    const m = /(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/.exec(line.replace(/^(local|broadcast|unicast)\s+/, ''));
    if (m && m[2] !== '0') routes.push([toNumber(m[1]), m[2] === undefined ? 32 : Number(m[2])]);
  }
  const overlaps = (a, b) => {
    const bits = Math.min(a[1], b[1]);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return (a[0] & mask) >>> 0 === (b[0] & mask) >>> 0;
  };
  const start = Math.floor(Math.random() * 32);
  for (let i = 0; i < 32; i++) {
    const third = ((start + i) % 32) * 8;
    if (!routes.some((r) => overlaps(r, [toNumber(`10.199.${third}.0`), 21]))) return `10.199.${third}.0/21`;
  }
  throw new Error('no free /21 left in 10.199.0.0/16');
}

/**
 * berthd's flags for network objects of its own: bridge `bb<suffix><tag>`, nftables table
 * `berth_bench_<suffix><tag>`, a free /21 of 10.199.0.0/16 for its subnets. Another
 * daemon on the host (a test's, a dockerd) is never touched; `removeBenchNetworks` deletes
 * them after the benchmark. `tag` tells two daemons of one directory apart.
 */
function benchNetworkArgs(dir, tag = '') {
  const sfx = `${benchSuffix(dir)}${tag}`;
  return [
    '--bridge',
    `bb${sfx}`.slice(0, 15),
    '--nftables-table',
    `berth_bench_${sfx}`,
    '--default-address-pool',
    `base=${freeBenchPool()},size=24`,
  ];
}

/** Delete the bridges and nftables tables named after this benchmark's directory (berthd keeps its default bridge after it stops, as dockerd keeps docker0). */
function removeBenchNetworks(dir) {
  const sfx = benchSuffix(dir);
  const links = JSON.parse(spawnSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' }).stdout || '[]');
  for (const l of links) if (l.ifname.startsWith(`bb${sfx}`.slice(0, 15))) spawnSync('ip', ['link', 'del', l.ifname]);
  const tables = spawnSync('nft', ['list', 'tables', 'ip'], { encoding: 'utf8' }).stdout ?? '';
  for (const m of tables.matchAll(/^table ip (\S+)$/gm))
    if (m[1].startsWith(`berth_bench_${sfx}`)) spawnSync('nft', ['delete', 'table', 'ip', m[1]]);
}

/**
 * Start a berthd of the benchmark's own: socket, data root and exec root under `dir`, its
 * log in `dir/berthd.log`, a config file that does not exist (the host's daemon.json never
 * leaks in), the cgroup parent given, and `BERTH_BENCH_RUNTIME` as its default runtime
 * when set (else the engine's own choice). Pushed on `started` (stopped by
 * `stopAndClean`); resolves once it answers, with the environment for the docker CLI
 * (`env`) and for the berth CLI (`berthEnv`) and the berth CLI's path (`berth`).
 * `repo` runs another checkout's build (a baseline beside this one, `tag` naming its
 * subdirectory of `dir` and its network objects).
 */
async function startBerthd(dir, started, { cgroupParent, logLevel = 'warn', repo = path.join(__dirname, '..'), tag = '', args = [] }) {
  const home = tag ? path.join(dir, tag) : dir;
  fs.mkdirSync(home, { recursive: true });
  const socket = path.join(home, 'berthd.sock');
  const log = fs.openSync(path.join(home, 'berthd.log'), 'w');
  const runtime = process.env.BERTH_BENCH_RUNTIME;
  // BERTH_BENCH_DAEMON_JSON: a daemon.json for berthd (else none), e.g. a plugin's option
  // to compare a change with and without it in the same run conditions.
  if (process.env.BERTH_BENCH_DAEMON_JSON) fs.writeFileSync(path.join(home, 'none.json'), process.env.BERTH_BENCH_DAEMON_JSON);
  // biome-ignore format: flag and value pairs
  const proc = spawn(
    path.join(repo, 'bin/berthd'),
    [
      '--host', `unix://${socket}`,
      '--data-root', path.join(home, 'data'),
      '--exec-root', path.join(home, 'exec'),
      '--cgroup-parent', cgroupParent,
      '--log-level', logLevel,
      '--config-file', path.join(home, 'none.json'),
      ...benchNetworkArgs(dir, tag.slice(0, 1)),
      ...(runtime ? ['--default-runtime', runtime] : []),
      ...args,
    ],
    { stdio: ['ignore', log, log] },
  );
  started.push(proc);
  await waitForSocket(socket, 20000);
  return {
    proc,
    socket,
    env: { DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: path.join(home, 'docker-config') },
    berthEnv: { BERTH_HOST: `unix://${socket}` },
    berth: path.join(repo, 'bin/berth'),
    log: path.join(home, 'berthd.log'),
  };
}

/**
 * Containers outlive berthd by design, so a benchmark that stops its berthd with a
 * container still running leaves its shim behind: end every berth-shim whose command
 * line names `dir` (only this benchmark's), its container's processes first (SIGKILL to
 * the shim's children, so the shim records the exit and leaves), the shim itself after 2 s.
 */
function endLeftShims(dir) {
  const shims = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let argv;
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv[0].endsWith('/berth-shim') && argv.some((a) => a.startsWith(`${dir}/`))) shims.push(Number(pid));
  }
  if (shims.length === 0) return;
  const children = spawnSync('ps', ['-o', 'pid=', '--ppid', shims.join(',')], { encoding: 'utf8' }).stdout;
  for (const pid of children.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {}
  }
  const until = Date.now() + 2000;
  while (Date.now() < until && shims.some((pid) => fs.existsSync(`/proc/${pid}`))) spawnSync('sleep', ['0.05']);
  for (const pid of shims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

/** Remove the (empty) cgroups, in every hierarchy, of the containers under `dir`'s data roots (its own and its baselines'). */
function removeContainerCgroups(dir) {
  let roots = [dir];
  try {
    roots = [dir, ...fs.readdirSync(dir).map((n) => path.join(dir, n))];
  } catch {}
  const ids = roots.flatMap((root) => {
    try {
      return fs.readdirSync(path.join(root, 'data/containers')).filter((n) => /^[0-9a-f]{64}$/.test(n));
    } catch {
      return [];
    }
  });
  if (ids.length === 0) return;
  const pattern = new RegExp(`/(${ids.join('|')})$`);
  const found = spawnSync('find', ['/sys/fs/cgroup', '-mindepth', '2', '-maxdepth', '4', '-type', 'd'], { encoding: 'utf8' }).stdout;
  for (const cg of found.split('\n').filter((d) => pattern.test(d))) {
    try {
      fs.rmdirSync(cg);
    } catch {}
  }
}

/**
 * The end of every benchmark, pass or fail: stop what it started (SIGTERM, newest first,
 * 10 s each), end the containers it left running and remove their cgroups, give the host its firewall and bridge back, unmount what is left under
 * `dir` and delete it.
 */
async function stopAndClean(started, dir) {
  for (const p of started.reverse()) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 10000))]);
  }
  endLeftShims(dir);
  removeContainerCgroups(dir);
  removeBenchNetworks(dir);
  restoreHost();
  spawnSync('sh', ['-c', `grep -o " ${dir}[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l`]);
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Run a benchmark's `main`, then, pass or fail, `beforeClean` (what the benchmark itself
 * must undo first: its containers) and `stopAndClean`; a failure is printed and sets the
 * exit status.
 */
function runBench(main, started, dir, beforeClean = () => {}) {
  return main()
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(async () => {
      await beforeClean();
      await stopAndClean(started, dir);
    });
}

/**
 * One request line (`GET /_ping`) on a fresh connection to `sock`, `Connection: close`;
 * resolves [milliseconds, the status line] or [milliseconds, 'error ...'] (never rejects),
 * an unanswered request ending after `timeoutMs`.
 */
function timedRequest(sock, line, timeoutMs = 60_000) {
  return new Promise((resolve) => {
    const t = process.hrtime.bigint();
    const s = net.connect(sock);
    let got = '';
    const done = (status) => {
      clearTimeout(timer);
      s.destroy();
      resolve([Number(process.hrtime.bigint() - t) / 1e6, status]);
    };
    const timer = setTimeout(() => done('error: no answer'), timeoutMs);
    s.on('connect', () => s.write(`${line} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n`));
    s.on('data', (d) => (got += d));
    s.on('end', () => done(got.split('\r\n')[0]));
    s.on('error', (e) => done(`error ${e.code}`));
  });
}

/** A loopback TCP port nobody listens on now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * A registry on a free loopback port with its storage at `root`: berth's (`bin/berth-registry
 * serve`) when `kind` is 'berth', else Debian's reference one (`/usr/bin/docker-registry`,
 * access log off, its config beside the root). Pushed to `started`; resolves once `/v2/`
 * answers, with { url, host, pid, stop } (stop: SIGTERM by its pid, then the root removed).
 */
async function startRegistry(kind, root, started) {
  const port = await freePort();
  let proc;
  if (kind === 'berth') {
    const { NODE_OPTIONS: _, ...env } = process.env;
    proc = spawn(path.join(__dirname, '..', 'bin/berth-registry'), ['serve', '--addr', `127.0.0.1:${port}`, '--root', root], {
      stdio: 'ignore',
      env,
    });
  } else {
    const config = `${root}.yml`;
    fs.writeFileSync(
      config,
      `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${root}\nhttp:\n  addr: 127.0.0.1:${port}\n`,
    );
    proc = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: 'ignore' });
  }
  started.push(proc);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`${url}: the ${kind} registry exited (${proc.exitCode})`);
    if (i === 200) throw new Error(`nothing answers on ${url}`);
    const ok = await fetch(`${url}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    host: `127.0.0.1:${port}`,
    pid: proc.pid,
    stop: async () => {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** CPU time (ms, user + system) a process has used so far, from /proc. */
function cpuMs(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

module.exports = {
  benchNetworkArgs,
  cpuMs,
  median,
  removeBenchNetworks,
  restoreHost,
  runBench,
  shimRssKiB,
  startBerthd,
  startDockerd,
  startRegistry,
  stopAndClean,
  timedRequest,
  timeOnce,
  waitForSocket,
};
