// Name resolution inside a container through the embedded DNS server (127.0.0.11), at a
// fixed rate: a load generator in the container's network namespace (this script again,
// run under `nsenter --net`) sends A queries for a peer container's name at 1,000 per
// second (open loop: on schedule whatever the answers do), and prints the latency
// percentiles (p50, p99, max) and how many went unanswered. Against a berthd of its own,
// against the floor (an echo server in the same namespace: the generator, the kernel and
// the scheduler, no resolver), and against a dockerd of its own when Docker is installed
// (its default bridge and firewall, which its embedded DNS needs; the host restored
// after, stopped by its pid), in interleaved rounds of 2 s (A B C A B C) over N seconds
// each. Prints figures, asserts nothing.
// Usage: node bench/dns-lookups.js [seconds] [rate]      (default 10 s at 1000/s)
// Run it under `flock /tmp/berth-dockerd-bench.lock` when Docker is installed (one dockerd at a time on a machine).
// BERTH_BENCH_NO_DOCKERD=1: berthd alone.
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const path = require('node:path');

if (process.argv[2] === '--load') {
  load(process.argv[3], Number(process.argv[4]), Number(process.argv[5]), process.argv[6] || '127.0.0.11');
} else if (process.argv[2] === '--echo') {
  echo(process.argv[3]);
} else {
  const { runBench, startBerthd, startDockerd } = require('./support.js');
  const repo = path.resolve(__dirname, '..');
  const seconds = Number(process.argv[2] || 10);
  const rate = Number(process.argv[3] || 1000);
  const dir = fs.mkdtempSync('/tmp/berth-bench-');
  const busybox = path.join(repo, 'test/fixtures/.cache/busybox.tar');
  const started = [];
  const docker = (env, args) => execFileSync('docker', args, { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();

  /** Two containers on a user network of `env`'s daemon; resolves the pid whose namespace the load runs in. */
  const setUp = (env) => {
    docker(env, ['load', '-q', '-i', busybox]);
    docker(env, ['network', 'create', 'benchdns']);
    docker(env, ['run', '-d', '--name', 'asker', '--network', 'benchdns', 'busybox', 'sleep', '3000']);
    docker(env, ['run', '-d', '--name', 'answered', '--network', 'benchdns', 'busybox', 'sleep', '3000']);
    return docker(env, ['inspect', '-f', '{{.State.Pid}}', 'asker']);
  };
  const tearDown = (env) => {
    docker(env, ['rm', '-f', 'asker', 'answered']);
    docker(env, ['network', 'rm', 'benchdns']);
  };

  const main = async () => {
    const berthd = await startBerthd(dir, started, { cgroupParent: 'berth-bench' });
    const targets = [{ label: 'berthd (embedded DNS)', pid: setUp(berthd.env), server: '127.0.0.11' }];
    // The floor: an echo server in the same namespace as the load, answering at once.
    const echoServer = spawn('nsenter', [`--net=/proc/${targets[0].pid}/ns/net`, process.execPath, __filename, '--echo', '127.0.0.12'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    started.push(echoServer);
    await new Promise((r) => echoServer.stdout.once('data', r));
    targets.push({ label: 'the floor (an echo, no resolver)', pid: targets[0].pid, server: '127.0.0.12' });
    const dockerd = process.env.BERTH_BENCH_NO_DOCKERD ? undefined : await startDockerd(dir, started, { network: 'default' });
    if (dockerd) targets.push({ label: 'dockerd (embedded DNS)', pid: setUp(dockerd.env), server: '127.0.0.11' });
    // Warm-up, then rounds of 2 s each, interleaved A B C A B C, so the machine's noise falls on all alike.
    for (const t of targets) await runLoad(t.pid, 'answered', 1, rate, t.server);
    const rounds = Math.max(1, Math.round(seconds / 2));
    for (const t of targets) Object.assign(t, { latencies: [], sent: 0, lost: 0 });
    for (let r = 0; r < rounds; r++) {
      for (const t of targets) {
        const got = await runLoad(t.pid, 'answered', 2, rate, t.server);
        t.latencies.push(...got.latencies);
        t.sent += got.sent;
        t.lost += got.lost;
      }
    }
    const f = (ms) => `${ms.toFixed(3)} ms`;
    for (const t of targets) {
      const sorted = t.latencies.sort((a, b) => a - b);
      const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
      t.p99 = pct(99);
      console.log(
        `${t.label.padEnd(34)} ${t.sent} lookups at ${rate}/s: p50 ${f(pct(50))}  p99 ${f(t.p99)}  max ${f(sorted.at(-1) ?? Number.NaN)}  unanswered ${t.lost}`,
      );
    }
    console.log(`target: berthd p99 < 2 ms (${rounds} interleaved rounds of 2 s each)`);
    const rss = resolverRssKiB(dir);
    if (rss) console.log(`berth's resolver process: RSS ${(rss / 1024).toFixed(1)} MiB`);
    if (dockerd) console.log(`ratio p99 berthd / dockerd          ${(targets[0].p99 / targets[2].p99).toFixed(2)}x`);
    else console.log('dockerd: not compared (no Docker engine installed, or BERTH_BENCH_NO_DOCKERD)');
    echoServer.kill();
    tearDown(berthd.env);
    if (dockerd) tearDown(dockerd.env);
  };
  runBench(main, started, dir);
}

/** Run the load generator in the namespace of `pid`; resolves with its figures. */
function runLoad(pid, name, seconds, rate) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'nsenter',
      [`--net=/proc/${pid}/ns/net`, process.execPath, __filename, '--load', name, String(seconds), String(rate)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load generator exited ${code}`))));
  });
}

/** VmRSS (KiB) of the resolver process serving `dir`'s exec root. */
function resolverRssKiB(dir) {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!/resolver-main\.js/.test(cmd) || !cmd.includes(dir)) continue;
      return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
    } catch {}
  }
  return undefined;
}

/**
 * The floor: a UDP server on `address`:53 that answers each query with itself (flagged a
 * response) at once, in the same namespace as the load; what no resolver can go below on
 * this machine at this moment (the generator's own delays, the kernel, the scheduler).
 */
function echo(address) {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, from) => {
    msg[2] |= 0x80;
    socket.send(msg, from.port, from.address);
  });
  socket.bind(53, address, () => process.stdout.write('ready\n'));
}

/** The load generator: A queries for `name` to `server`:53, `rate` per second for `seconds`; prints JSON figures. */
function load(name, seconds, rate, server) {
  const socket = dgram.createSocket('udp4');
  const total = Math.round(seconds * rate);
  const sentAt = new Map();
  const latencies = [];
  let sent = 0;
  const query = (id) => {
    // A minimal query: header (id, RD), one question (name, A, IN).
    const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
    const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
  };
  socket.on('message', (msg) => {
    const at = sentAt.get(msg.readUInt16BE(0));
    if (at === undefined) return;
    sentAt.delete(msg.readUInt16BE(0));
    latencies.push(Number(process.hrtime.bigint() - at) / 1e6);
  });
  const began = process.hrtime.bigint();
  const tick = () => {
    const due = Math.min(total, Math.floor((Number(process.hrtime.bigint() - began) / 1e9) * rate) + 1);
    while (sent < due) {
      const id = sent % 65536;
      sentAt.set(id, process.hrtime.bigint());
      socket.send(query(id), 53, server);
      sent++;
    }
    if (sent < total) setTimeout(tick, 1);
    else setTimeout(finish, 1000);
  };
  const finish = () => {
    socket.close();
    // The figures are the parent's, from every round's latencies together.
    process.stdout.write(JSON.stringify({ sent, lost: sent - latencies.length, latencies }));
  };
  socket.bind(0, () => tick());
}
