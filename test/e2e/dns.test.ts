import { execFile } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as dnsPacket from 'dns-packet';
import * as assert from 'uvu/assert';
import { daemonSuite, resolverPids, type TestDaemon } from './harness';

/**
 * The embedded DNS server (127.0.0.11 in every container namespace on a user network):
 * names, aliases and links between containers, isolation between networks, names from
 * elsewhere forwarded to a DNS server this test runs (on a loopback address of the
 * host's namespace, where the resolver forwards from: every container gets it with
 * `--dns`, so no query leaves the machine), the resolver outliving a berthd killed with
 * SIGKILL. Real containers, real namespaces.
 */
const test = daemonSuite('dns', 'overlay');

const upstreamAddress = `127.53.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
const silentAddress = `127.54.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
const dns = ['--dns', upstreamAddress];

/** The test's upstream server: `outside.test` is 192.0.2.7, every other name NXDOMAIN. */
const upstream = { udp: dgram.createSocket('udp4'), silent: dgram.createSocket('udp4'), tcp: net.createServer(), asked: [] as string[] };
function upstreamAnswer(msg: Buffer): Buffer {
  const q = dnsPacket.decode(msg);
  const name = q.questions![0]!.name;
  upstream.asked.push(name);
  const known = name === 'outside.test';
  return dnsPacket.encode({
    type: 'response',
    id: q.id,
    flags: dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3), // NXDOMAIN
    questions: q.questions,
    answers: known && q.questions![0]!.type === 'A' ? [{ type: 'A', name, ttl: 5, data: '192.0.2.7' }] : [],
  });
}

test.before(async () => {
  upstream.udp.on('message', (msg, from) => upstream.udp.send(upstreamAnswer(msg), from.port, from.address));
  upstream.tcp.on('connection', (conn) =>
    conn.once('data', (d) => {
      const reply = upstreamAnswer(d.subarray(2));
      const length = Buffer.alloc(2);
      length.writeUInt16BE(reply.length);
      conn.end(Buffer.concat([length, reply]));
    }),
  );
  await new Promise<void>((r) => upstream.udp.bind(53, upstreamAddress, r));
  await new Promise<void>((r) => upstream.silent.bind(53, silentAddress, r));
  await new Promise<void>((r) => upstream.tcp.listen(53, upstreamAddress, r));
});

test.after(() => {
  upstream.udp.close();
  upstream.silent.close();
  upstream.tcp.close();
});

/** What busybox nslookup in `container` says of `name`: its addresses, or the error it printed. */
async function lookup(daemon: TestDaemon, container: string, name: string): Promise<string> {
  // A timeout past the resolver's own for an upstream (2 s): its SERVFAIL comes first.
  const r = await daemon.docker(['exec', container, 'nslookup', '-type=a', '-timeout=8', name]);
  return addressesOrError(r.stdout + r.stderr);
}

function addressesOrError(out: string): string {
  const failure = /can't find [^:]*: (\w+)/.exec(out);
  if (failure) return failure[1]!;
  const addresses = [
    ...out
      .split('Name:')
      .slice(1)
      .join('')
      .matchAll(/Address: ([\d.]+)/g),
  ].map((m) => m[1]);
  return addresses.sort().join(' ') || out;
}

/** A shell command run in a container's namespaces from the host (nsenter: needs no berthd). */
function inNamespaces(pid: number, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile('nsenter', ['-t', String(pid), '-n', '-m', '-u', '-p', '--', ...args], { timeout: 10_000 }, (_err, stdout, stderr) =>
      resolve(stdout + stderr),
    );
  });
}

async function ip(daemon: TestDaemon, container: string, network: string): Promise<string> {
  return daemon.ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container]);
}

test('containers on a user network resolve each other by name, short id, hostname and --network-alias; not across networks', async ({
  daemon,
}) => {
  await daemon.ok(['network', 'create', 'front']);
  await daemon.ok(['network', 'create', 'back']);
  const webId = await daemon.ok([
    'run',
    '-d',
    '--name',
    'web',
    '--network',
    'front',
    '--network-alias',
    'www',
    '--hostname',
    'webhost',
    ...dns,
    'busybox',
    'httpd',
    '-f',
    '-p',
    '8080',
    '-h',
    '/etc',
  ]);
  await daemon.ok(['run', '-d', '--name', 'app', '--network', 'front', ...dns, 'busybox', 'sleep', '300']);
  await daemon.ok(['run', '-d', '--name', 'lonely', '--network', 'back', ...dns, 'busybox', 'sleep', '300']);
  const webIp = await ip(daemon, 'web', 'front');
  assert.match(webIp, /^10\.199\./);
  assert.is(await daemon.ok(['exec', 'app', 'cat', '/etc/resolv.conf']), 'nameserver 127.0.0.11\noptions ndots:0');
  for (const name of ['web', 'www', 'webhost', webId.slice(0, 12), 'web.front', 'WEB']) {
    assert.is(await lookup(daemon, 'app', name), webIp, name);
  }
  assert.is(await lookup(daemon, 'web', 'app'), await ip(daemon, 'app', 'front'));
  // AAAA of a known name: an empty answer, not NXDOMAIN (busybox prints no error).
  const aaaa = await daemon.docker(['exec', 'app', 'nslookup', '-type=aaaa', 'web']);
  assert.not.match(aaaa.stdout + aaaa.stderr, /NXDOMAIN/);
  assert.match(await daemon.ok(['exec', 'app', 'ping', '-c1', '-W2', 'www']), /1 packets received/);
  assert.match(await daemon.ok(['exec', 'app', 'wget', '-q', '-O-', 'http://www:8080/hostname']), /webhost/);
  // Another network's names are not this one's: asked upstream, which knows none of them.
  assert.is(await lookup(daemon, 'lonely', 'web'), 'NXDOMAIN');
  assert.is(await lookup(daemon, 'app', 'lonely'), 'NXDOMAIN');
  assert.ok(upstream.asked.includes('lonely'));
  // Inspect: the aliases on the user network (with the short id), as dockerd lists them.
  const aliases = JSON.parse(await daemon.ok(['inspect', '-f', '{{json (index .NetworkSettings.Networks "front").Aliases}}', 'web']));
  assert.equal(aliases, ['www', webId.slice(0, 12)]);
  // The default bridge keeps the host's resolvers, and refuses a network alias, as Docker.
  assert.not.match(await daemon.ok(['run', '--rm', 'busybox', 'cat', '/etc/resolv.conf']), /127\.0\.0\.11/);
  const refused = await daemon.docker(['run', '--rm', '--network-alias', 'x', 'busybox', 'true']);
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, /network-scoped alias/);
  await daemon.ok(['rm', '-f', 'web', 'app', 'lonely']);
  await daemon.ok(['network', 'rm', 'front', 'back']);
});

test('--link other:alias: the alias resolves for the linking container only; inspect shows the links; a missing or stopped target is refused', async ({
  daemon,
}) => {
  await daemon.ok(['network', 'create', 'linked']);
  await daemon.ok(['run', '-d', '--name', 'db', '--network', 'linked', ...dns, 'busybox', 'sleep', '300']);
  await daemon.ok(['run', '-d', '--name', 'api', '--network', 'linked', '--link', 'db:database', ...dns, 'busybox', 'sleep', '300']);
  await daemon.ok(['run', '-d', '--name', 'bystander', '--network', 'linked', ...dns, 'busybox', 'sleep', '300']);
  const dbIp = await ip(daemon, 'db', 'linked');
  assert.is(await lookup(daemon, 'api', 'database'), dbIp);
  assert.is(await lookup(daemon, 'bystander', 'database'), 'NXDOMAIN');
  assert.is(await lookup(daemon, 'bystander', 'db'), dbIp);
  assert.equal(JSON.parse(await daemon.ok(['inspect', '-f', '{{json .HostConfig.Links}}', 'api'])), ['/db:/api/database']);
  assert.equal(JSON.parse(await daemon.ok(['inspect', '-f', '{{json (index .NetworkSettings.Networks "linked").Links}}', 'api'])), [
    'db:database',
  ]);
  const missing = await daemon.docker(['create', '--network', 'linked', '--link', 'nosuch:x', 'busybox', 'true']);
  assert.is.not(missing.code, 0);
  assert.match(missing.stderr, /could not get container for nosuch/);
  await daemon.ok(['create', '--name', 'stopped', '--network', 'linked', 'busybox', 'true']);
  await daemon.ok(['create', '--name', 'late', '--network', 'linked', '--link', 'stopped:s', 'busybox', 'true'], 'berth');
  const notRunning = await daemon.docker(['start', 'late']);
  assert.is.not(notRunning.code, 0);
  assert.match(notRunning.stderr, /Cannot link to a non running container: \/stopped AS \/late\/s/);
  // On the default bridge a link is a hosts entry, as Docker's legacy links.
  await daemon.ok(['run', '-d', '--name', 'olddb', 'busybox', 'sleep', '300']);
  const hosts = await daemon.ok(['run', '--rm', '--link', 'olddb:legacy', 'busybox', 'cat', '/etc/hosts']);
  assert.match(hosts, new RegExp(`^${(await ip(daemon, 'olddb', 'bridge')).replace(/\./g, '\\.')}\\tlegacy olddb$`, 'm'));
  await daemon.ok(['rm', '-f', 'db', 'api', 'bystander', 'stopped', 'late', 'olddb']);
  await daemon.ok(['network', 'rm', 'linked']);
});

test('other names go to the container’s --dns servers (UDP and TCP), SERVFAIL when they do not answer; a removed container’s name is gone; --internal forwards nothing', async ({
  daemon,
}) => {
  await daemon.ok(['network', 'create', 'fwd']);
  await daemon.ok(['run', '-d', '--name', 'asker', '--network', 'fwd', ...dns, 'busybox', 'sleep', '300']);
  await daemon.ok(['run', '-d', '--name', 'quiet', '--network', 'fwd', '--dns', silentAddress, 'busybox', 'sleep', '300']);
  await daemon.ok(['run', '-d', '--name', 'shortlived', '--network', 'fwd', ...dns, 'busybox', 'sleep', '300']);
  assert.is(await lookup(daemon, 'asker', 'outside.test'), '192.0.2.7');
  // TCP, from inside the container's namespace (busybox nslookup speaks only UDP).
  const pid = Number(await daemon.ok(['inspect', '-f', '{{.State.Pid}}', 'asker']));
  const tcp = await tcpQuery(pid, 'outside.test');
  assert.equal(tcp, ['192.0.2.7']);
  assert.equal(await tcpQuery(pid, 'shortlived'), [await ip(daemon, 'shortlived', 'fwd')]);
  const began = Date.now();
  assert.is(await lookup(daemon, 'quiet', 'outside.test'), 'SERVFAIL');
  assert.ok(Date.now() - began < 20_000);
  assert.is(await lookup(daemon, 'quiet', 'asker'), await ip(daemon, 'asker', 'fwd')); // local names need no upstream
  await daemon.ok(['rm', '-f', 'shortlived']);
  assert.is(await lookup(daemon, 'asker', 'shortlived'), 'NXDOMAIN');
  await daemon.ok(['rm', '-f', 'asker', 'quiet']);
  await daemon.ok(['network', 'rm', 'fwd']);
  // --internal: names of the network answer, nothing from elsewhere (nothing leaves).
  await daemon.ok(['network', 'create', '--internal', 'sealed']);
  await daemon.ok(['run', '-d', '--name', 'inside1', '--network', 'sealed', ...dns, 'busybox', 'sleep', '300']);
  await daemon.ok(['run', '-d', '--name', 'inside2', '--network', 'sealed', ...dns, 'busybox', 'sleep', '300']);
  assert.is(await lookup(daemon, 'inside1', 'inside2'), await ip(daemon, 'inside2', 'sealed'));
  const asked = upstream.asked.length;
  assert.is(await lookup(daemon, 'inside1', 'sealed-outside.test'), 'SERVFAIL');
  assert.not.ok(upstream.asked.slice(asked).includes('sealed-outside.test'));
  await daemon.ok(['rm', '-f', 'inside1', 'inside2']);
  await daemon.ok(['network', 'rm', 'sealed']);
});

/** An A query over TCP to 127.0.0.11 from inside the namespace of `pid`, by a Node client run there. */
function tcpQuery(pid: number, name: string): Promise<string[]> {
  const q = dnsPacket.encode({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
  const script = `const s=require('net').connect(53,'127.0.0.11');const q=Buffer.from(process.argv[1],'base64');const l=Buffer.alloc(2);l.writeUInt16BE(q.length);s.write(Buffer.concat([l,q]));let b=Buffer.alloc(0);s.on('data',d=>{b=Buffer.concat([b,d]);if(b.length>=2&&b.length>=2+b.readUInt16BE(0)){process.stdout.write(b.subarray(2).toString('base64'));s.destroy()}})`;
  return new Promise((resolve, reject) =>
    execFile(
      'nsenter',
      [`--net=/proc/${pid}/ns/net`, process.execPath, '-e', script, q.toString('base64')],
      { timeout: 10_000 },
      (err, out) => {
        if (err) return reject(err);
        resolve(dnsPacket.decode(Buffer.from(out, 'base64')).answers!.map((a) => (a as { data: string }).data));
      },
    ),
  );
}

test('berthd killed with SIGKILL: names still resolve; restarted, it adopts the one resolver, which answers the changes; a resolver killed is replaced; with berthd gone and nothing to serve it leaves', async ({
  daemon,
}) => {
  await daemon.ok(['network', 'create', 'survive']);
  await daemon.ok(['run', '-d', '--name', 'stays', '--network', 'survive', '--network-alias', 'keeper', ...dns, 'busybox', 'sleep', '300']);
  await daemon.ok(['run', '-d', '--name', 'peer', '--network', 'survive', ...dns, 'busybox', 'sleep', '300']);
  const staysIp = await ip(daemon, 'stays', 'survive');
  const peerPid = Number(await daemon.ok(['inspect', '-f', '{{.State.Pid}}', 'peer']));
  const resolvers = resolverPids(daemon.dir);
  assert.is(resolvers.length, 1);
  await daemon.kill('SIGKILL');
  assert.is(addressesOrError(await inNamespaces(peerPid, ['nslookup', '-type=a', 'keeper'])), staysIp);
  assert.is(addressesOrError(await inNamespaces(peerPid, ['nslookup', '-type=a', 'outside.test'])), '192.0.2.7');
  await daemon.start();
  assert.equal(resolverPids(daemon.dir), resolvers, 'the same resolver, adopted');
  assert.is(await lookup(daemon, 'peer', 'stays'), staysIp);
  await daemon.ok(['run', '-d', '--name', 'newcomer', '--network', 'survive', ...dns, 'busybox', 'sleep', '300']);
  assert.is(await lookup(daemon, 'peer', 'newcomer'), await ip(daemon, 'newcomer', 'survive'));
  await daemon.ok(['rm', '-f', 'stays']);
  assert.is(await lookup(daemon, 'peer', 'keeper'), 'NXDOMAIN');
  // A resolver that dies on its own is started again by berthd's watchdog (every 5 s).
  process.kill(resolvers[0]!, 'SIGKILL');
  let answer = '';
  for (let i = 0; i < 30 && answer !== (await ip(daemon, 'newcomer', 'survive')); i++) {
    await new Promise((r) => setTimeout(r, 500));
    answer = await lookup(daemon, 'peer', 'newcomer');
  }
  assert.is(answer, await ip(daemon, 'newcomer', 'survive'));
  assert.is(resolverPids(daemon.dir).length, 1);
  assert.is.not(resolverPids(daemon.dir)[0], resolvers[0]);
  await daemon.ok(['rm', '-f', 'peer', 'newcomer']);
  await daemon.ok(['network', 'rm', 'survive']);
  // berthd killed with no container needing the resolver: the resolver leaves on its own.
  assert.is(resolverPids(daemon.dir).length, 1);
  await daemon.kill('SIGKILL');
  for (let i = 0; i < 50 && resolverPids(daemon.dir).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(resolverPids(daemon.dir), []);
  await daemon.start();
});

test.run();
