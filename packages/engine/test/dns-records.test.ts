import * as dnsPacket from 'dns-packet';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { embeddedResolvConf } from '../src/containers/etc-files.js';
import { answerQuery, serverFailure } from '../src/dns/dns-answers.js';
import { buildDnsRecords, type DnsContainerFacts } from '../src/dns/dns-record-builder.js';
import type { DnsRecords } from '../src/dns/dns-records.js';
import { parseLinks, requestedLinks, storedLinks } from '../src/dns/links.js';
import type { EndpointRecord, NetworkRecord } from '../src/networks/network-record.js';

/** A decoded message with its rcode (dns-packet decodes it; its types omit it). */
type Decoded = dnsPacket.DecodedPacket & { rcode?: string };
const decode = (buf: Buffer): Decoded => dnsPacket.decode(buf) as Decoded;

const hex = (c: string) => c.repeat(64);

function network(id: string, name: string, predefined = false, internal = false): NetworkRecord {
  return {
    id: hex(id),
    name,
    driver: 'bridge',
    options: {},
    labels: {},
    internal,
    created: '',
    state: 'ready',
    ipamRequest: {},
    predefined,
  };
}

function endpoint(net: string, container: string, ip: string, aliases: string[], sandbox = true): EndpointRecord {
  return {
    networkId: hex(net),
    id: hex('e'),
    containerId: hex(container),
    aliases,
    ipAddress: ip,
    ...(sandbox ? { sandbox: `/proc/${container.charCodeAt(0)}/ns/net` } : {}),
  };
}

/** Two user networks (a: web, app; b: other), the default bridge (old), app linking web as db. */
function model(): DnsRecords {
  const networks = [network('a', 'front'), network('b', 'back'), network('c', 'bridge', true)];
  const endpoints: Record<string, EndpointRecord[]> = {
    [hex('a')]: [endpoint('a', '1', '10.0.0.2', ['web', 'www']), endpoint('a', '2', '10.0.0.3', ['app'])],
    [hex('b')]: [endpoint('b', '3', '10.0.1.2', ['other'])],
    [hex('c')]: [endpoint('c', '4', '172.17.0.2', ['old'])],
  };
  const facts: Record<string, DnsContainerFacts> = {
    [hex('1')]: { id: hex('1'), name: 'web', hostname: 'webhost', links: [], dns: [] },
    [hex('2')]: { id: hex('2'), name: 'app', links: ['/web:/app/db'], dns: ['192.0.2.53'] },
    [hex('3')]: { id: hex('3'), name: 'other', links: [], dns: [] },
    [hex('4')]: { id: hex('4'), name: 'old', links: [], dns: [] },
  };
  return buildDnsRecords(
    networks,
    (id) => endpoints[id] ?? [],
    (id) => facts[id],
  );
}

test('records: names, short ids, hostnames, aliases and name.network per user network; the default bridge has none', () => {
  const r = model();
  assert.equal(Object.keys(r.networks).sort(), [hex('a'), hex('b')].sort());
  const front = r.networks[hex('a')]!;
  for (const name of ['web', 'www', 'webhost', hex('1').slice(0, 12), 'web.front']) assert.equal(front[name], ['10.0.0.2'], name);
  assert.equal(front.app, ['10.0.0.3']);
  assert.is(front.other, undefined);
  assert.equal(r.networks[hex('b')]!.other, ['10.0.1.2']);
  assert.is(r.reverse[hex('a')]!['10.0.0.2'], 'web.front');
  assert.equal(r.sandboxes.map((s) => s.containerId).sort(), [hex('1'), hex('2'), hex('3')]);
});

test('records: a link alias is the linking container’s only, with its --dns servers as upstreams', () => {
  const r = model();
  const app = r.sandboxes.find((s) => s.containerId === hex('2'))!;
  assert.equal(app.links, { db: ['10.0.0.2'], web: ['10.0.0.2'] });
  assert.equal(app.upstreams, ['192.0.2.53']);
  assert.equal(app.networks, [hex('a')]);
  const web = r.sandboxes.find((s) => s.containerId === hex('1'))!;
  assert.equal(web.links, {});
  assert.equal(web.upstreams, []);
});

test('records: a link to a container on no shared network resolves nothing', () => {
  const networks = [network('a', 'front'), network('b', 'back')];
  const endpoints: Record<string, EndpointRecord[]> = {
    [hex('a')]: [endpoint('a', '2', '10.0.0.3', ['app'])],
    [hex('b')]: [endpoint('b', '3', '10.0.1.2', ['other'])],
  };
  const facts: Record<string, DnsContainerFacts> = {
    [hex('2')]: { id: hex('2'), name: 'app', links: ['other:o'], dns: [] },
    [hex('3')]: { id: hex('3'), name: 'other', links: [], dns: [] },
  };
  const r = buildDnsRecords(
    networks,
    (id) => endpoints[id] ?? [],
    (id) => facts[id],
  );
  assert.equal(r.sandboxes.find((s) => s.containerId === hex('2'))!.links, {});
});

test('records: an endpoint recorded without its sandbox takes the running container’s namespace; a stopped one is no sandbox', () => {
  const networks = [network('a', 'front')];
  const endpoints = [endpoint('a', '5', '10.0.0.9', ['late'], false), endpoint('a', '6', '10.0.0.10', ['stopped'], false)];
  const facts: Record<string, DnsContainerFacts> = {
    [hex('5')]: { id: hex('5'), name: 'late', links: [], dns: [], netns: '/proc/4242/ns/net' },
    [hex('6')]: { id: hex('6'), name: 'stopped', links: [], dns: [] },
  };
  const r = buildDnsRecords(
    networks,
    () => endpoints,
    (id) => facts[id],
  );
  assert.equal(
    r.sandboxes.map((s) => [s.containerId, s.netns]),
    [[hex('5'), '/proc/4242/ns/net']],
  );
  assert.equal(r.networks[hex('a')]!.stopped, ['10.0.0.10']);
});

test('records: a container only on internal networks does not forward; one network with a way out is enough', () => {
  const networks = [network('a', 'inner', false, true), network('b', 'outer')];
  const endpoints: Record<string, EndpointRecord[]> = {
    [hex('a')]: [endpoint('a', '1', '10.0.0.2', ['only-inner']), endpoint('a', '2', '10.0.0.3', ['both'])],
    [hex('b')]: [endpoint('b', '2', '10.0.1.3', ['both'])],
  };
  const facts: Record<string, DnsContainerFacts> = {
    [hex('1')]: { id: hex('1'), name: 'only-inner', links: [], dns: [] },
    [hex('2')]: { id: hex('2'), name: 'both', links: [], dns: [] },
  };
  const r = buildDnsRecords(
    networks,
    (id) => endpoints[id] ?? [],
    (id) => facts[id],
  );
  assert.equal(
    r.sandboxes.map((s) => [s.containerId, s.forward, s.networks.length]),
    [
      [hex('1'), false, 1],
      [hex('2'), true, 2],
    ],
  );
});

test('links: both forms parse, the stored form is dockerd’s, a missing target or the host network is refused', () => {
  assert.equal(parseLinks(['web:db', 'cache', '/web:/app/db']), [
    { target: 'web', alias: 'db' },
    { target: 'cache', alias: 'cache' },
    { target: 'web', alias: 'db' },
  ]);
  assert.equal(storedLinks([{ target: 'web', alias: 'db' }], 'app'), ['/web:/app/db']);
  assert.throws(() => parseLinks(['a:b:c']), /invalid link "a:b:c"/);
  assert.throws(() => parseLinks([':x']), /invalid link/);
  assert.throws(
    () => requestedLinks({ Image: 'x', HostConfig: { Links: ['gone:g'] } }, false, () => false),
    /could not get container for gone/,
  );
  assert.throws(() => requestedLinks({ Image: 'x', HostConfig: { Links: ['web:w'] } }, true, () => true), /host type networking/);
  const both = requestedLinks(
    { Image: 'x', HostConfig: { Links: ['web:w'] }, NetworkingConfig: { EndpointsConfig: { n: { Links: ['web:w', 'db'] } } } },
    false,
    () => true,
  );
  assert.equal(both, [
    { target: 'web', alias: 'w' },
    { target: 'db', alias: 'db' },
  ]);
});

test('resolv.conf for the embedded DNS: 127.0.0.11 only, the search and options asked for or the host’s, ndots:0 by default', () => {
  const host = 'nameserver 10.0.0.1\nsearch example.com\noptions edns0\n';
  assert.is(embeddedResolvConf(host, {}), 'nameserver 127.0.0.11\nsearch example.com\noptions edns0 ndots:0\n');
  assert.is(
    embeddedResolvConf(host, { dnsSearch: ['a.test'], dnsOptions: ['ndots:2', 'timeout:1'], dns: ['192.0.2.1'] }),
    'nameserver 127.0.0.11\nsearch a.test\noptions ndots:2 timeout:1\n',
  );
  assert.is(embeddedResolvConf('', { dnsSearch: ['.'] }), 'nameserver 127.0.0.11\noptions ndots:0\n');
});

function query(name: string, type: dnsPacket.RecordType, extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    ...extra,
  });
}

function decided(r: DnsRecords, container: string, q: Buffer, udp = true): Decoded | 'forward' {
  const sandbox = r.sandboxes.find((s) => s.containerId === hex(container))!;
  const d = answerQuery(r, sandbox, q, udp);
  assert.ok(d);
  return 'forward' in d! ? 'forward' : decode(d!.answer);
}

test('answers: A of a name the asker sees, AAAA of it empty (not NXDOMAIN), case and trailing dot ignored', () => {
  const r = model();
  const a = decided(r, '2', query('WWW.', 'A'));
  assert.ok(a !== 'forward');
  assert.is(a.id, 4242);
  assert.is(a.rcode, 'NOERROR');
  assert.equal(
    a.answers!.map((x) => (x as { data: string }).data),
    ['10.0.0.2'],
  );
  const aaaa = decided(r, '2', query('web', 'AAAA'));
  assert.ok(aaaa !== 'forward' && aaaa.rcode === 'NOERROR' && aaaa.answers!.length === 0);
  const db = decided(r, '2', query('db', 'A'));
  assert.ok(db !== 'forward' && db.answers!.length === 1);
});

test('answers: other networks’ names, another container’s link alias and unknown names go upstream', () => {
  const r = model();
  assert.is(decided(r, '2', query('other', 'A')), 'forward');
  assert.is(decided(r, '1', query('db', 'A')), 'forward');
  assert.is(decided(r, '3', query('web', 'A')), 'forward');
  assert.is(decided(r, '2', query('example.org', 'A')), 'forward');
});

test('answers: PTR of a container address on the asker’s networks', () => {
  const r = model();
  const p = decided(r, '2', query('2.0.0.10.in-addr.arpa', 'PTR'));
  assert.ok(p !== 'forward' && (p.answers![0] as { data: string }).data === 'web.front');
  assert.is(decided(r, '3', query('2.0.0.10.in-addr.arpa', 'PTR')), 'forward');
});

test('answers: over UDP an answer past 512 bytes is truncated (TC), over TCP it is whole', () => {
  const r = model();
  r.networks[hex('a')]!.many = Array.from({ length: 60 }, (_, i) => `10.0.2.${i + 1}`);
  const udp = decided(r, '2', query('many', 'A'));
  assert.ok(udp !== 'forward');
  assert.ok((udp.flags! & dnsPacket.TRUNCATED_RESPONSE) !== 0);
  assert.is(udp.answers!.length, 0);
  const tcp = decided(r, '2', query('many', 'A'), false);
  assert.ok(tcp !== 'forward' && tcp.answers!.length === 60);
});

test('answers: a malformed query gets FORMERR; SERVFAIL keeps the id and the question', () => {
  const r = model();
  const sandbox = r.sandboxes[0]!;
  const bad = answerQuery(r, sandbox, Buffer.from([1, 2, 3, 4, 5]), true);
  assert.ok(bad && 'answer' in bad);
  if (!bad || !('answer' in bad)) return;
  assert.is(bad.answer.readUInt16BE(0), 0x0102);
  assert.is(bad.answer.readUInt16BE(2) & 0xf, 1);
  assert.is(answerQuery(r, sandbox, Buffer.from([1]), true), undefined);
  const fail = decode(serverFailure(query('x.example', 'A'))!);
  assert.is(fail.id, 4242);
  assert.is(fail.rcode, 'SERVFAIL');
  assert.is(fail.questions![0]!.name, 'x.example');
});

test.run();
