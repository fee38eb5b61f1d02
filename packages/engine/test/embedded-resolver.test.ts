import { execFile } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { socketInNetns } from '@berth/native';
import { type TestNetns, testNetns } from '@berth/testkit';
import * as dnsPacket from 'dns-packet';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DnsRecords } from '../src/dns/dns-records.js';
import { EmbeddedResolver } from '../src/dns/embedded-resolver.js';

/** A decoded message with its rcode (dns-packet decodes it; its types omit it). */
type Decoded = dnsPacket.DecodedPacket & { rcode?: string };
const decode = (buf: Buffer): Decoded => dnsPacket.decode(buf) as Decoded;

// Real network namespaces (unshare), real sockets: the resolver's at 127.0.0.11:53 in each,
// an upstream server of the test's own on a loopback address of the host's namespace.

const hex = (c: string) => c.repeat(64);
const upstreamAddress = `127.53.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
const silentAddress = `127.54.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
const namespaces: TestNetns[] = [];

/** A namespace of the test's own with `lo` up; its path. */
async function namespace(): Promise<string> {
  const ns = await testNetns(60);
  namespaces.push(ns);
  ns.ip(['link', 'set', 'lo', 'up']);
  return ns.path;
}

function records(
  sandboxes: Array<{ id: string; netns: string; upstreams?: string[]; networks?: string[]; forward?: boolean }>,
): DnsRecords {
  return {
    version: 1,
    networks: {
      [hex('a')]: { web: ['10.9.0.2'], many: Array.from({ length: 80 }, (_, i) => `10.9.1.${i + 1}`) },
      [hex('b')]: { other: ['10.9.9.2'] },
    },
    reverse: { [hex('a')]: { '10.9.0.2': 'web.front' } },
    sandboxes: sandboxes.map((s) => ({
      containerId: hex(s.id),
      netns: s.netns,
      networks: s.networks ?? [hex('a')],
      links: {},
      upstreams: s.upstreams ?? [upstreamAddress],
      forward: s.forward ?? true,
    })),
  };
}

function query(name: string, type: dnsPacket.RecordType = 'A', id = 7): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
}

/** A UDP query from inside `netns` to 127.0.0.11:53. */
async function askUdp(netns: string, q: Buffer, timeoutMs = 3000): Promise<Decoded | undefined> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind({ fd: socketInNetns(netns, 'udp', '127.0.0.1', 0) }, resolve));
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      socket.on('message', (msg) => {
        clearTimeout(timer);
        resolve(decode(msg));
      });
      socket.send(q, 53, '127.0.0.11');
    });
  } finally {
    socket.close();
  }
}

/** A TCP query from inside `netns` (a client process of its own there: a socket Node connects cannot be made elsewhere). */
async function askTcp(netns: string, q: Buffer): Promise<Decoded> {
  const script = `const s=require('net').connect(53,'127.0.0.11');const q=Buffer.from(process.argv[1],'base64');const l=Buffer.alloc(2);l.writeUInt16BE(q.length);s.write(Buffer.concat([l,q]));let b=Buffer.alloc(0);s.on('data',d=>{b=Buffer.concat([b,d]);if(b.length>=2&&b.length>=2+b.readUInt16BE(0)){process.stdout.write(b.subarray(2).toString('base64'));s.destroy()}})`;
  // Asynchronously: the resolver answering it runs in this process's event loop.
  const out = await new Promise<string>((resolve, reject) =>
    execFile('nsenter', [`--net=${netns}`, process.execPath, '-e', script, q.toString('base64')], { timeout: 4000 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    ),
  );
  return decode(Buffer.from(out, 'base64'));
}

/** The test's upstream: answers `outside.test` with 192.0.2.7 over UDP and TCP, counts queries. */
const upstream = { udp: dgram.createSocket('udp4'), tcp: net.createServer(), queries: 0 };
function upstreamAnswer(msg: Buffer): Buffer {
  upstream.queries++;
  const q = decode(msg);
  return dnsPacket.encode({
    type: 'response',
    id: q.id,
    flags: dnsPacket.RECURSION_AVAILABLE,
    questions: q.questions,
    answers: q.questions![0]!.name === 'outside.test' ? [{ type: 'A', name: 'outside.test', ttl: 5, data: '192.0.2.7' }] : [],
  });
}

test.before(async () => {
  upstream.udp.on('message', (msg, from) => upstream.udp.send(upstreamAnswer(msg), from.port, from.address));
  upstream.tcp.on('connection', (conn) => {
    conn.once('data', (d) => {
      const reply = upstreamAnswer(d.subarray(2));
      const l = Buffer.alloc(2);
      l.writeUInt16BE(reply.length);
      conn.end(Buffer.concat([l, reply]));
    });
  });
  await new Promise<void>((r) => upstream.udp.bind(53, upstreamAddress, r));
  await new Promise<void>((r) => upstream.tcp.listen(53, upstreamAddress, r));
});

test.after(() => {
  upstream.udp.close();
  upstream.tcp.close();
  for (const ns of namespaces) ns.close();
});

test('answers a container’s names over UDP inside its namespace, AAAA empty, others forwarded upstream', async () => {
  const netns = await namespace();
  const resolver = new EmbeddedResolver();
  try {
    await resolver.apply(records([{ id: '1', netns }]));
    const a = await askUdp(netns, query('web'));
    assert.equal(
      a?.answers?.map((x) => (x as { data: string }).data),
      ['10.9.0.2'],
    );
    const aaaa = await askUdp(netns, query('web', 'AAAA'));
    assert.is(aaaa?.rcode, 'NOERROR');
    assert.is(aaaa?.answers?.length, 0);
    const outside = await askUdp(netns, query('outside.test', 'A', 99));
    assert.is(outside?.id, 99);
    assert.equal(
      outside?.answers?.map((x) => (x as { data: string }).data),
      ['192.0.2.7'],
    );
    // A name of a network the container is not on goes upstream (which knows nothing of it).
    const before = upstream.queries;
    const other = await askUdp(netns, query('other'));
    assert.is(other?.answers?.length, 0);
    assert.is(upstream.queries, before + 1);
  } finally {
    resolver.close();
  }
});

test('TCP: a large answer whole, a forwarded one too; UDP truncates the large one', async () => {
  const netns = await namespace();
  const resolver = new EmbeddedResolver();
  try {
    await resolver.apply(records([{ id: '2', netns }]));
    const udp = await askUdp(netns, query('many'));
    assert.ok(((udp?.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0);
    assert.is((await askTcp(netns, query('many'))).answers?.length, 80);
    assert.equal(
      (await askTcp(netns, query('outside.test'))).answers?.map((x) => (x as { data: string }).data),
      ['192.0.2.7'],
    );
  } finally {
    resolver.close();
  }
});

test('SERVFAIL when no upstream answers in time; namespaces apart do not see each other', async () => {
  const quiet = dgram.createSocket('udp4'); // bound and silent: the query is taken and never answered
  await new Promise<void>((r) => quiet.bind(53, silentAddress, r));
  const one = await namespace();
  const two = await namespace();
  const resolver = new EmbeddedResolver({ upstreamTimeoutMs: 200 });
  try {
    await resolver.apply(
      records([
        { id: '3', netns: one, upstreams: [silentAddress] },
        { id: '4', netns: two, networks: [hex('b')] },
      ]),
    );
    const began = Date.now();
    const failed = await askUdp(one, query('outside.test'));
    assert.is(failed?.rcode, 'SERVFAIL');
    assert.ok(Date.now() - began < 2000);
    const other = await askUdp(two, query('other'));
    assert.equal(
      other?.answers?.map((x) => (x as { data: string }).data),
      ['10.9.9.2'],
    );
    assert.is((await askUdp(two, query('web')))?.answers?.length, 0); // forwarded: unknown upstream
  } finally {
    resolver.close();
    quiet.close();
  }
});

test('a container only on internal networks gets no names from elsewhere: SERVFAIL at once, nothing sent upstream', async () => {
  const netns = await namespace();
  const resolver = new EmbeddedResolver();
  try {
    await resolver.apply(records([{ id: '7', netns, forward: false }]));
    const before = upstream.queries;
    const refused = await askUdp(netns, query('outside.test'));
    assert.is(refused?.rcode, 'SERVFAIL');
    assert.is(upstream.queries, before);
    assert.is((await askUdp(netns, query('web')))?.answers?.length, 1);
  } finally {
    resolver.close();
  }
});

test('forwarded queries in flight are capped: past the cap SERVFAIL comes at once, local names still answer', async () => {
  const quiet = dgram.createSocket('udp4');
  const quietAddress = `127.55.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  await new Promise<void>((r) => quiet.bind(53, quietAddress, r));
  const netns = await namespace();
  const resolver = new EmbeddedResolver({ upstreamTimeoutMs: 1500, maxForwards: 3 });
  try {
    await resolver.apply(records([{ id: '6', netns, upstreams: [quietAddress] }]));
    const pending = [1, 2, 3].map((id) => askUdp(netns, query(`slow${id}.test`, 'A', id)));
    await new Promise((r) => setTimeout(r, 100));
    const began = Date.now();
    const refused = await askUdp(netns, query('fourth.test', 'A', 4));
    assert.is(refused?.rcode, 'SERVFAIL');
    assert.ok(Date.now() - began < 1000, 'answered before any upstream timed out');
    assert.is((await askUdp(netns, query('web')))?.answers?.length, 1);
    for (const reply of await Promise.all(pending)) assert.is(reply?.rcode, 'SERVFAIL');
  } finally {
    resolver.close();
    quiet.close();
  }
});

test('a sandbox that leaves the records, or whose process is gone, loses its sockets (and no longer holds its namespace)', async () => {
  const netns = await namespace();
  const resolver = new EmbeddedResolver();
  try {
    await resolver.apply(records([{ id: '5', netns }]));
    assert.equal(resolver.sandboxIds, [hex('5')]);
    await resolver.apply(records([]));
    assert.equal(resolver.sandboxIds, []);
    assert.is(await askUdp(netns, query('web'), 300), undefined);
    await resolver.apply(records([{ id: '5', netns }]));
    assert.ok(await askUdp(netns, query('web')));
    namespaces.at(-1)!.close();
    await new Promise((r) => setTimeout(r, 100));
    resolver.sweep();
    assert.equal(resolver.sandboxIds, []);
    await resolver.apply(records([{ id: '5', netns }]));
    assert.equal(resolver.sandboxIds, [], 'a namespace gone is never entered again');
  } finally {
    resolver.close();
  }
});

test.run();
