import { execFileSync, spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import * as assert from 'uvu/assert';
import { daemonSuite, sleep, type TestDaemon } from './harness';
import { networkObjects, poolSubnet } from './network-isolation';

/**
 * Networking through the real docker CLI and berth's own: the default bridge, user
 * networks, isolation, NAT, --internal, restarts, leaks. Every address is in the
 * daemon's own /21 of 10.199.0.0/16 (the harness gives it), and traffic goes only
 * between namespaces of this test and the host.
 */
const test = daemonSuite('networks', 'overlay');

const host = (cidr: string, n: number) => cidr.replace(/0\/24$/, String(n));

/** Veths and bridges of this daemon besides its default bridge. */
function extraLinks(daemon: TestDaemon): string[] {
  return networkObjects(daemon.network).filter((l) => l !== daemon.network.bridge);
}

/** A namespace of the test's own behind a veth `<bridge>o` with `address/24` on the host side and `.2` inside; no route back to anything else. */
async function outsideNamespace(daemon: TestDaemon, cidr: string): Promise<{ address: string; close: () => void }> {
  const child = spawn('unshare', ['--net', 'sleep', '120'], { stdio: 'ignore' });
  const netns = `/proc/${child.pid}/ns/net`;
  const ours = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 200 && readlinkSync(netns) === ours; i++) await sleep(10);
  assert.is.not(readlinkSync(netns), ours);
  const link = `${daemon.network.bridge}o`.slice(0, 15);
  const inside = (args: string[]) => execFileSync('nsenter', [`--net=${netns}`, 'ip', ...args]);
  execFileSync('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
  execFileSync('ip', ['addr', 'add', `${host(cidr, 1)}/24`, 'dev', link]);
  execFileSync('ip', ['link', 'set', link, 'up']);
  inside(['addr', 'add', `${host(cidr, 2)}/24`, 'dev', 'eth0']);
  inside(['link', 'set', 'eth0', 'up']);
  return {
    address: host(cidr, 2),
    close() {
      child.kill('SIGKILL');
      try {
        execFileSync('ip', ['link', 'del', link], { stdio: 'ignore' });
      } catch {}
    },
  };
}

test('bridge is the default network: eth0 with an address of the pool, a default route, /etc/hosts and inspect as Docker shapes them', async ({
  daemon,
}) => {
  const bridgeSubnet = poolSubnet(daemon.network, 0);
  const id = await daemon.ok(['run', '-d', '--hostname', 'web', 'busybox', 'sleep', '60']);
  try {
    const settings = JSON.parse(await daemon.ok(['inspect', '-f', '{{json .NetworkSettings}}', id]));
    const net = settings.Networks.bridge;
    assert.ok(net, JSON.stringify(settings));
    assert.is(settings.IPAddress, host(bridgeSubnet, 2));
    assert.is(settings.Gateway, host(bridgeSubnet, 1));
    assert.is(settings.IPPrefixLen, 24);
    assert.is(
      settings.MacAddress,
      `02:42:0a:c7:${host(bridgeSubnet, 2)
        .split('.')
        .slice(2)
        .map((b) => Number(b).toString(16).padStart(2, '0'))
        .join(':')}`,
    );
    assert.equal(
      [net.IPAddress, net.Gateway, net.IPPrefixLen, net.MacAddress, net.EndpointID.length, net.NetworkID],
      [
        settings.IPAddress,
        settings.Gateway,
        24,
        settings.MacAddress,
        64,
        JSON.parse(await daemon.ok(['network', 'inspect', 'bridge']))[0].Id,
      ],
    );
    const inside = await daemon.ok([
      'exec',
      id,
      'sh',
      '-c',
      'ip -4 -o addr show eth0; ip route; cat /etc/hosts; cat /sys/class/net/eth0/mtu',
    ]);
    assert.match(inside, `inet ${host(bridgeSubnet, 2)}/24`);
    assert.match(inside, `default via ${host(bridgeSubnet, 1)} dev eth0`);
    assert.match(inside, `${host(bridgeSubnet, 2)}\tweb`);
    assert.match(inside, /\n1500$/);
    // The bridge on the host is the daemon's own, named by --bridge.
    assert.match(
      execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', daemon.network.bridge], { encoding: 'utf8' }),
      `${host(bridgeSubnet, 1)}/24`,
    );
  } finally {
    await daemon.docker(['rm', '-f', id]);
  }
  assert.equal(extraLinks(daemon), [], 'the veth outlived its container');
});

test('--add-host (host-gateway), --dns, --dns-search, --dns-option, --ip and --mac-address', async ({ daemon }) => {
  const out = await daemon.ok([
    'run', '--rm', '--add-host', 'db:10.1.2.3', '--add-host', 'gw:host-gateway', '--dns', '192.0.2.53',
    '--dns-search', 'example.test', '--dns-option', 'ndots:3', 'busybox', 'sh', '-c', 'cat /etc/hosts /etc/resolv.conf',
  ]); // biome-ignore format: argv
  assert.match(out, '10.1.2.3\tdb');
  assert.match(out, `${host(poolSubnet(daemon.network, 0), 1)}\tgw`);
  assert.match(out, 'nameserver 192.0.2.53');
  assert.not.match(out, /nameserver (?!192\.0\.2\.53)/);
  assert.match(out, 'search example.test');
  assert.match(out, 'options ndots:3');
  const ip = host(poolSubnet(daemon.network, 0), 200);
  const addr = await daemon.ok(
    ['run', '--rm', '--ip', ip, '--mac-address', '02:aa:bb:cc:dd:ee', 'busybox', 'ip', '-o', 'addr', 'show', 'eth0'],
    'berth',
  );
  assert.match(addr, `inet ${ip}/24`);
  const link = await daemon.ok(
    ['run', '--rm', '--mac-address', '02:aa:bb:cc:dd:ee', 'busybox', 'cat', '/sys/class/net/eth0/address'],
    'berth',
  );
  assert.is(link, '02:aa:bb:cc:dd:ee');
  const bad = await daemon.docker(['run', '--rm', '--add-host', 'nope', 'busybox', 'true']);
  assert.is.not(bad.code, 0);
  const outside = await daemon.docker(['run', '--rm', '--ip', '10.250.0.9', 'busybox', 'true']);
  assert.is(outside.code, 125);
  assert.match(outside.stderr, /invalid IPv4 address 10\.250\.0\.9/);
  assert.equal(extraLinks(daemon), []);
});

test('a user network: create with --subnet/--gateway/--ip-range/--label/-o bridge.name, containers reach each other by IP, not across networks; rm is 409 while in use', async ({
  daemon,
}) => {
  const a = poolSubnet(daemon.network, 3);
  const b = poolSubnet(daemon.network, 4);
  const brName = `${daemon.network.bridge}a`.slice(0, 15);
  const range = a.replace(/0\/24$/, '128/25');
  await daemon.ok(['network', 'create', '--subnet', a, '--gateway', host(a, 254), '--ip-range', range, '--label', 'team=blue', '-o', `com.docker.network.bridge.name=${brName}`, 'neta']); // biome-ignore format: argv
  await daemon.ok(['network', 'create', '--subnet', b, 'netb'], 'berth');
  try {
    const inspect = JSON.parse(await daemon.ok(['network', 'inspect', 'neta']))[0];
    assert.equal(inspect.IPAM.Config, [{ Subnet: a, Gateway: host(a, 254), IPRange: range }]);
    assert.equal(inspect.Labels, { team: 'blue' });
    assert.is(inspect.Driver, 'bridge');
    assert.ok(execFileSync('ip', ['-o', 'link', 'show', brName], { encoding: 'utf8' }).includes(brName));
    const ls = await daemon.ok(['network', 'ls', '--format', '{{.Name}} {{.Driver}}'], 'berth');
    assert.match(ls, 'neta bridge');
    assert.match(ls, 'netb bridge');

    const web = await daemon.ok([
      'run',
      '-d',
      '--network',
      'neta',
      'busybox',
      'sh',
      '-c',
      'echo hello > /tmp/i && httpd -f -h /tmp -p 8080',
    ]);
    const webIp = (await daemon.ok(['inspect', '-f', '{{.NetworkSettings.Networks.neta.IPAddress}}', web])).trim();
    assert.is(webIp, host(a, 128), 'the first address of --ip-range (a host address of the subnet)');
    const got = await daemon.ok([
      'run',
      '--rm',
      '--network',
      'neta',
      'busybox',
      'sh',
      '-c',
      `ping -c1 -W2 ${webIp} >/dev/null && wget -qO- http://${webIp}:8080/i`,
    ]);
    assert.is(got, 'hello');
    const across = await daemon.docker([
      'run',
      '--rm',
      '--network',
      'netb',
      'busybox',
      'sh',
      '-c',
      `ping -c1 -W1 ${webIp} || wget -T 2 -qO- http://${webIp}:8080/i`,
    ]);
    assert.is.not(across.code, 0, 'a container on netb reached neta');
    const inUse = await daemon.docker(['network', 'rm', 'neta']);
    assert.is(inUse.code, 1);
    assert.match(inUse.stderr, /has active endpoints/);
    const members = JSON.parse(await daemon.ok(['network', 'inspect', 'neta']))[0].Containers;
    assert.equal(
      Object.values(members).map((m) => (m as { IPv4Address: string }).IPv4Address),
      [`${webIp}/24`],
    );
    await daemon.ok(['rm', '-f', web]);
  } finally {
    await daemon.docker(['network', 'rm', 'neta', 'netb']);
  }
  assert.not.ok(networkObjects(daemon.network).includes(brName));
  const predefined = await daemon.docker(['network', 'rm', 'bridge']);
  assert.match(predefined.stderr, /bridge is a pre-defined network and cannot be removed/);
  const taken = await daemon.docker(['network', 'create', '--subnet', poolSubnet(daemon.network, 0), 'clash']);
  assert.is.not(taken.code, 0);
  assert.equal(extraLinks(daemon), []);
});

test('outbound traffic is masqueraded to a namespace with no route back; --internal has no way out', async ({ daemon }) => {
  const outside = await outsideNamespace(daemon, poolSubnet(daemon.network, 7));
  await daemon.ok(['network', 'create', '--internal', '--subnet', poolSubnet(daemon.network, 5), 'closed'], 'berth');
  try {
    await daemon.ok(['run', '--rm', 'busybox', 'ping', '-c1', '-W2', outside.address]);
    const closed = await daemon.docker([
      'run',
      '--rm',
      '--network',
      'closed',
      'busybox',
      'sh',
      '-c',
      `ip route; ping -c1 -W1 ${outside.address}`,
    ]);
    assert.is.not(closed.code, 0, 'an internal network reached the outside');
    assert.not.match(closed.stdout, /default/);
  } finally {
    outside.close();
    await daemon.ok(['network', 'rm', 'closed'], 'berth');
  }
});

test('100 containers started and removed on one network leave no link, and their addresses come back', async ({ daemon }) => {
  const cidr = poolSubnet(daemon.network, 6);
  await daemon.ok(['network', 'create', '--subnet', cidr, 'many'], 'berth');
  try {
    for (let i = 0; i < 100; i += 10) {
      const batch = Array.from({ length: 10 }, () => daemon.berth(['run', '--rm', '--network', 'many', 'busybox', 'true']));
      for (const r of await Promise.all(batch)) assert.is(r.code, 0, r.stderr);
    }
    // The removals released their endpoints in the background; the next attach on the
    // network waits for those releases, so once this container runs every earlier link
    // is gone and every address is back: it gets the first one and is the only veth.
    const first = await daemon.ok(['run', '-d', '--network', 'many', 'busybox', 'sleep', '60'], 'berth');
    assert.is((await daemon.ok(['inspect', '-f', '{{.NetworkSettings.Networks.many.IPAddress}}', first])).trim(), host(cidr, 2));
    const veths = extraLinks(daemon).filter((l) => !l.startsWith('br-'));
    assert.is(veths.length, 1, `the running container's veth alone: ${veths.join(', ')}`);
    assert.match(veths[0]!, /^vb[0-9a-f]{13}$/);
    await daemon.ok(['rm', '-f', first]);
  } finally {
    await daemon.ok(['network', 'rm', 'many'], 'berth');
  }
  assert.equal(extraLinks(daemon), []);
  const pruned = await daemon.berth(['network', 'create', 'unused']);
  assert.is(pruned.code, 0, pruned.stderr);
  assert.match(await daemon.ok(['network', 'prune', '-f'], 'berth'), 'unused');
  assert.equal((await daemon.ok(['network', 'ls', '-q', '--filter', 'type=custom'])).trim(), '');
});

test('a running container keeps its network across a berthd kill -9; its address is not handed out again', async ({ daemon }) => {
  const id = await daemon.ok(['run', '-d', 'busybox', 'sleep', '120']);
  const ip = await daemon.ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', id]);
  await daemon.kill('SIGKILL');
  await daemon.start();
  assert.is(await daemon.ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', id]), ip);
  const other = await daemon.ok([
    'run',
    '--rm',
    'busybox',
    'sh',
    '-c',
    `ip -4 -o addr show eth0; ping -c1 -W2 ${ip} >/dev/null && echo reached`,
  ]);
  assert.not.match(other, `inet ${ip}/`);
  assert.match(other, 'reached');
  await daemon.ok(['rm', '-f', id]);
  assert.equal(extraLinks(daemon), []);
});

test.run();
