import { execFileSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { existsSync, readdirSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { daemonSuite, sleep, type TestDaemon } from './harness';

/**
 * Published ports (`-p`, `-P`) through the real docker CLI and berth's own: DNAT in the
 * daemon's nftables table, reached from the host on 127.0.0.1 and on the host's own
 * non-loopback address, from other containers (hairpin), over TCP and UDP; conflicts;
 * rules only while a container runs; a berthd killed with SIGKILL leaves its ports
 * answering and rebuilds them once. Traffic stays on the host and in the test's containers.
 */
const test = daemonSuite('published-ports', 'overlay');

/** The host's own IPv4 address on a real interface: global scope, not a bridge, not a container network of any test. */
function hostAddress(): string {
  const links = JSON.parse(execFileSync('ip', ['-j', '-d', '-4', 'addr', 'show', 'scope', 'global'], { encoding: 'utf8' })) as Array<{
    ifname: string;
    linkinfo?: { info_kind?: string };
    addr_info?: Array<{ local: string }>;
  }>;
  for (const link of links) {
    if (link.linkinfo?.info_kind === 'bridge' || link.linkinfo?.info_kind === 'veth') continue;
    const address = link.addr_info?.find((a) => !a.local.startsWith('10.199.'))?.local;
    if (address) return address;
  }
  throw new Error('this host has no global IPv4 address outside its bridges: the test needs one (ip -4 addr)');
}

/** A TCP port no socket holds right now (the kernel's choice for port 0). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** GET a path over HTTP; the status and body, or the error's code. */
function get(host: string, port: number, urlPath = '/hostname'): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: urlPath, timeout: 3000, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

/** Assert a container's httpd answers `/hostname` with its hostname on host:port. */
async function answers(host: string, port: number, hostname: string): Promise<void> {
  const r = await get(host, port);
  assert.equal(r, { status: 200, body: `${hostname}\n` }, `${host}:${port}`);
}

/** The rules of the daemon's `published` chain (its DNAT rules), one per line. */
function dnatRules(daemon: TestDaemon): string[] {
  const out = execFileSync('nft', ['list', 'chain', 'ip', daemon.network.table, 'published'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.includes(' dnat to '));
}

/** An httpd container serving its /etc (so `/hostname` names it). */
async function httpd(daemon: TestDaemon, args: string[]): Promise<string> {
  return daemon.ok(['run', '-d', ...args, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
}

/** The endpoint records of a container, over every network of the daemon. */
function endpointRecords(daemon: TestDaemon, id: string): string[] {
  const root = path.join(daemon.dataRoot, 'networks');
  return readdirSync(root).filter((n) => existsSync(path.join(root, n, 'endpoints', `${id}.json`)));
}

/** Whether a TCP socket can listen on the port on every address (nobody holds it). */
async function bindable(port: number): Promise<boolean> {
  const server = net.createServer();
  const bound = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => resolve(true));
  });
  if (bound) await new Promise((resolve) => server.close(resolve));
  return bound;
}

test('-p: httpd answers on 127.0.0.1 and on the host address; docker port, ps, inspect and berth port show the bindings', async ({
  daemon,
}) => {
  const fixed = await freePort();
  const id = await httpd(daemon, ['--name', 'web', '--hostname', 'web', '-p', `${fixed}:80`, '-p', '80', '-p', '127.0.0.1::80']);
  try {
    const settings = JSON.parse(await daemon.ok(['inspect', '-f', '{{json .NetworkSettings.Ports}}', id]));
    const bindings = settings['80/tcp'] as Array<{ HostIp: string; HostPort: string }>;
    assert.is(bindings.length, 3, JSON.stringify(settings));
    const ephemeral = bindings.find((b) => b.HostIp === '0.0.0.0' && b.HostPort !== String(fixed))!;
    const local = bindings.find((b) => b.HostIp === '127.0.0.1')!;
    assert.ok(ephemeral && local, JSON.stringify(bindings));
    const [low, high] = execFileSync('cat', ['/proc/sys/net/ipv4/ip_local_port_range'], { encoding: 'utf8' })
      .trim()
      .split(/\s+/)
      .map(Number);
    for (const b of [ephemeral, local]) assert.ok(Number(b.HostPort) >= low! && Number(b.HostPort) <= high!, b.HostPort);
    const address = hostAddress();
    await answers('127.0.0.1', fixed, 'web');
    await answers(address, fixed, 'web');
    await answers('127.0.0.1', Number(ephemeral.HostPort), 'web');
    await answers(address, Number(ephemeral.HostPort), 'web');
    await answers('127.0.0.1', Number(local.HostPort), 'web');
    // Published on 127.0.0.1 only: the host's other address does not forward it.
    assert.ok('error' in (await get(address, Number(local.HostPort))), 'a port published on 127.0.0.1 answered on the host address');
    const port = await daemon.ok(['port', 'web']);
    assert.equal(
      port.split('\n').sort(),
      [`80/tcp -> 0.0.0.0:${fixed}`, `80/tcp -> 0.0.0.0:${ephemeral.HostPort}`, `80/tcp -> 127.0.0.1:${local.HostPort}`].sort(),
    );
    assert.equal((await daemon.ok(['port', 'web'], 'berth')).split('\n').sort(), port.split('\n').sort());
    assert.is(await daemon.ok(['port', 'web', '80/tcp'], 'berth').then((o) => o.split('\n').length), 3);
    const missing = await daemon.berth(['port', 'web', '81']);
    assert.is(missing.code, 1);
    assert.match(missing.stderr, "No public port '81/tcp' published for web");
    const ps = await daemon.ok(['ps', '--filter', 'name=web', '--format', '{{.Ports}}']);
    assert.match(ps, `0.0.0.0:${fixed}->80/tcp`);
    assert.match(ps, `127.0.0.1:${local.HostPort}->80/tcp`);
    assert.is(dnatRules(daemon).length, 3);
  } finally {
    await daemon.ok(['rm', '-f', id]);
  }
  assert.equal(dnatRules(daemon), []);
});

test('-P maps every exposed port (the image EXPOSE and --expose) to an ephemeral port; an unpublished exposed port shows without one', async ({
  daemon,
}) => {
  const base = await daemon.ok(['create', 'busybox', 'true']);
  await daemon.ok(['commit', '--change', 'EXPOSE 80', '--change', 'EXPOSE 8080', base, 'exposing:1']);
  await daemon.ok(['rm', base]);
  const script = 'httpd -p 80 -h /etc; httpd -p 8080 -h /etc; httpd -f -p 9090 -h /etc';
  const id = await daemon.ok(['run', '-d', '--hostname', 'allports', '-P', '--expose', '9090', 'exposing:1', 'sh', '-c', script]);
  const plain = await daemon.ok(['run', '-d', 'exposing:1', 'sleep', '60']);
  try {
    const ports = JSON.parse(await daemon.ok(['inspect', '-f', '{{json .NetworkSettings.Ports}}', id]));
    assert.equal(Object.keys(ports).sort(), ['80/tcp', '8080/tcp', '9090/tcp']);
    const hostPorts = new Set<string>();
    for (const key of Object.keys(ports)) {
      const [binding] = ports[key] as Array<{ HostIp: string; HostPort: string }>;
      assert.is(binding!.HostIp, '0.0.0.0');
      hostPorts.add(binding!.HostPort);
      await answers('127.0.0.1', Number(binding!.HostPort), 'allports');
    }
    assert.is(hostPorts.size, 3, 'each exposed port got a host port of its own');
    // Exposed but not published: listed with no binding, as dockerd shows it.
    assert.equal(JSON.parse(await daemon.ok(['inspect', '-f', '{{json .NetworkSettings.Ports}}', plain])), {
      '80/tcp': null,
      '8080/tcp': null,
    });
    assert.is(await daemon.ok(['ps', '--filter', `id=${plain}`, '--format', '{{.Ports}}']), '80/tcp, 8080/tcp');
  } finally {
    await daemon.ok(['rm', '-f', id, plain]);
    await daemon.ok(['rmi', 'exposing:1']);
  }
});

test('hairpin: another container and the container itself reach a published port through the host address', async ({ daemon }) => {
  const address = hostAddress();
  const id = await httpd(daemon, ['--hostname', 'hairpin', '-p', '80']);
  try {
    const port = (await daemon.ok(['port', id, '80'])).split(':')[1]!;
    const other = await daemon.ok([
      'run',
      '--rm',
      'busybox',
      'timeout',
      '10',
      'wget',
      '-q',
      '-O',
      '-',
      `http://${address}:${port}/hostname`,
    ]);
    assert.is(other, 'hairpin');
    const self = await daemon.ok(['exec', id, 'timeout', '10', 'wget', '-q', '-O', '-', `http://${address}:${port}/hostname`]);
    assert.is(self, 'hairpin');
  } finally {
    await daemon.ok(['rm', '-f', id]);
  }
});

/** Send a datagram and wait for the answer (or undefined after a second). */
function udpAsk(host: string, port: number, text: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, 1000);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg.toString());
    });
    socket.send(text, port, host);
  });
}

test('UDP: a datagram to the published port reaches the container and its answer comes back, on 127.0.0.1 and the host address', async ({
  daemon,
}) => {
  // busybox's nc has no -u: the host's python3, mounted read-only, answers each datagram upper-cased.
  const echo =
    'import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(("0.0.0.0", 9999))\n' +
    'while True:\n    data, peer = s.recvfrom(2048)\n    s.sendto(data.upper(), peer)\n';
  const id = await daemon.ok([
    'run',
    '-d',
    '-v',
    '/usr:/usr:ro',
    '-v',
    '/usr/lib:/lib:ro',
    '-v',
    '/usr/lib64:/lib64:ro',
    '-p',
    '9999/udp',
    'busybox',
    '/usr/bin/python3',
    '-c',
    echo,
  ]);
  try {
    const port = Number((await daemon.ok(['port', id, '9999/udp'])).split(':')[1]);
    let answer: string | undefined;
    for (let i = 0; i < 50 && answer === undefined; i++) answer = await udpAsk('127.0.0.1', port, 'ping');
    assert.is(answer, 'PING', await daemon.ok(['logs', id]));
    assert.is(await udpAsk(hostAddress(), port, 'over the host address'), 'OVER THE HOST ADDRESS');
    assert.ok(dnatRules(daemon).some((r) => r === `udp dport ${port} dnat to ${r.split('dnat to ')[1]}`));
  } finally {
    await daemon.ok(['rm', '-f', id]);
  }
});

test('a host port in use (by a host socket or another container) is an error naming it, and leaves nothing behind', async ({ daemon }) => {
  const port = await freePort();
  const hostSocket = net.createServer();
  await new Promise<void>((resolve) => hostSocket.listen(port, '0.0.0.0', resolve));
  try {
    const r = await daemon.docker(['run', '-d', '--name', 'taken', '-p', `${port}:80`, 'busybox', 'httpd', '-f', '-p', '80']);
    assert.is(r.code, 125, r.stderr);
    assert.match(r.stderr, `Bind for 0.0.0.0:${port} failed: port is already in use on the host`);
    const id = await daemon.ok(['inspect', '-f', '{{.Id}}', 'taken']);
    assert.is(await daemon.ok(['inspect', '-f', '{{.State.Status}}', 'taken']), 'created');
    assert.equal(endpointRecords(daemon, id), []);
    assert.equal(dnatRules(daemon), []);
    await daemon.ok(['rm', 'taken']);
  } finally {
    await new Promise((resolve) => hostSocket.close(resolve));
  }
  const first = await httpd(daemon, ['-p', `${port}:80`]);
  try {
    const second = await daemon.docker([
      'run',
      '-d',
      '--name',
      'second',
      '-p',
      `127.0.0.1:${port}:80`,
      'busybox',
      'httpd',
      '-f',
      '-p',
      '80',
    ]);
    assert.is(second.code, 125, second.stderr);
    assert.match(second.stderr, `Bind for 127.0.0.1:${port} failed: port is already allocated`);
    const id = await daemon.ok(['inspect', '-f', '{{.Id}}', 'second']);
    assert.equal(endpointRecords(daemon, id), []);
    assert.is(dnatRules(daemon).length, 1);
    // Held by berth while published: no other program may take it.
    assert.not.ok(await bindable(port));
    await daemon.ok(['rm', 'second']);
  } finally {
    await daemon.ok(['rm', '-f', first]);
  }
  assert.ok(await bindable(port), 'the port is free again once its container is gone');
});

test('-p with a host range takes its first free port (one in use on the host is stepped over)', async ({ daemon }) => {
  const port = await freePort();
  const hostSocket = net.createServer();
  await new Promise<void>((resolve) => hostSocket.listen(port, '0.0.0.0', resolve));
  try {
    const id = await httpd(daemon, ['--hostname', 'ranged', '-p', `${port}-${port + 5}:80`]);
    try {
      const chosen = Number((await daemon.ok(['port', id, '80'])).split(':')[1]);
      assert.ok(chosen > port && chosen <= port + 5, `${chosen} is not in ${port + 1}-${port + 5}`);
      await answers('127.0.0.1', chosen, 'ranged');
    } finally {
      await daemon.ok(['rm', '-f', id]);
    }
  } finally {
    await new Promise((resolve) => hostSocket.close(resolve));
  }
});

test('ports exist only while the container runs: gone after stop (inspect and ps show none), back on start, gone after rm', async ({
  daemon,
}) => {
  const id = await httpd(daemon, ['--hostname', 'cycle', '-p', '80']);
  try {
    const port = Number((await daemon.ok(['port', id, '80'])).split(':')[1]);
    await answers('127.0.0.1', port, 'cycle');
    await daemon.ok(['stop', '-t', '1', id]);
    assert.equal(dnatRules(daemon), []);
    assert.equal(JSON.parse(await daemon.ok(['inspect', '-f', '{{json .NetworkSettings.Ports}}', id])), {});
    assert.is(await daemon.ok(['ps', '-a', '--filter', `id=${id}`, '--format', '{{.Ports}}']), '');
    assert.ok('error' in (await get('127.0.0.1', port)));
    assert.ok(await bindable(port), 'a stopped container holds no host port');
    await daemon.ok(['start', id]);
    const again = Number((await daemon.ok(['port', id, '80'])).split(':')[1]);
    await answers('127.0.0.1', again, 'cycle');
    assert.is(dnatRules(daemon).length, 1);
  } finally {
    await daemon.ok(['rm', '-f', id]);
  }
  assert.equal(dnatRules(daemon), []);
});

test('--network host ignores -p with the warning Docker gives', async ({ daemon }) => {
  const r = await daemon.docker(['create', '--network', 'host', '-p', '80:80', 'busybox', 'true']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, 'Published ports are discarded when using host network mode');
  await daemon.ok(['rm', r.stdout.trim()]);
});

test('berthd killed with SIGKILL: the port keeps answering while it is down, and after the restart its rules are there once', async ({
  daemon,
}) => {
  const id = await httpd(daemon, ['--hostname', 'survivor', '-p', '80', '-p', '81/udp']);
  try {
    const port = Number((await daemon.ok(['port', id, '80'])).split(':')[1]);
    await answers('127.0.0.1', port, 'survivor');
    const before = dnatRules(daemon);
    assert.is(before.length, 2);
    await daemon.kill('SIGKILL');
    await answers('127.0.0.1', port, 'survivor');
    await answers(hostAddress(), port, 'survivor');
    // Keep asking while berthd starts again: every answer comes (the rules are never taken away).
    let failures = 0;
    let asking = true;
    const asker = (async () => {
      while (asking) {
        if ('error' in (await get('127.0.0.1', port))) failures++;
        await sleep(20);
      }
    })();
    await daemon.start();
    asking = false;
    await asker;
    assert.is(failures, 0, 'the port stopped answering while berthd restarted');
    assert.equal(dnatRules(daemon), before);
    await answers('127.0.0.1', port, 'survivor');
    assert.is(await daemon.ok(['port', id, '80']), `0.0.0.0:${port}`);
    // Held again by the new berthd.
    assert.not.ok(await bindable(port));
  } finally {
    await daemon.ok(['rm', '-f', id]);
  }
  assert.equal(dnatRules(daemon), []);
});

test.run();
