import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deleteLink, getLink, linkOf, newAddress, newDefaultRoute, newVethPair, setLinkUp } from '../src/rtnetlink.js';

// The requests themselves are proved against the kernel by bridge-driver.test.ts; this
// file checks the framing every one of them shares and the parsing of an answer.

const header = (b: Buffer) => ({ length: b.readUInt32LE(0), type: b.readUInt16LE(4), flags: b.readUInt16LE(6), seq: b.readUInt32LE(8) });

test('every request is one message: its length is its size, a multiple of 4, with NLM_F_REQUEST|NLM_F_ACK and a sequence number of its own', () => {
  const requests = [
    newVethPair({ name: 'vb0123456789abc', mtu: 1500, masterIndex: 7, peerName: 'eth0', peerMac: '02:42:0a:00:00:02', peerNetnsFd: 21 }),
    getLink('vb0123456789abc'),
    deleteLink('vb0123456789abc'),
    setLinkUp(2),
    newAddress(2, '10.199.96.2', 24),
    newDefaultRoute(2, '10.199.96.1'),
  ];
  const seqs = new Set<number>();
  for (const r of requests) {
    const h = header(r);
    assert.is(h.length, r.length);
    assert.is(r.length % 4, 0);
    assert.is(h.flags & 0x5, 0x5);
    seqs.add(h.seq);
  }
  assert.is(seqs.size, requests.length);
  // A link or address create never replaces what exists: NLM_F_CREATE|NLM_F_EXCL.
  for (const r of [requests[0]!, requests[4]!]) assert.is(header(r).flags & 0x700, 0x600);
  // The default route replaces the one the namespace has (a network of higher priority takes it over): NLM_F_CREATE|NLM_F_REPLACE.
  assert.is(header(requests[5]!).flags & 0x700, 0x500);
});

test('newAddress and newDefaultRoute carry the addresses in network order', () => {
  const addr = newAddress(3, '10.199.96.2', 24);
  assert.is(addr.readUInt8(17), 24, 'prefix length');
  assert.is(addr.readUInt32LE(20), 3, 'interface index');
  assert.ok(addr.includes(Buffer.from([10, 199, 96, 2])));
  const route = newDefaultRoute(3, '10.199.96.1');
  assert.ok(route.includes(Buffer.from([10, 199, 96, 1])));
});

test('linkOf reads the index, name and peer of an RTM_NEWLINK answer; undefined for anything else or a cut message', () => {
  const attr = (type: number, payload: Buffer) => {
    const out = Buffer.alloc((4 + payload.length + 3) & ~3);
    out.writeUInt16LE(4 + payload.length, 0);
    out.writeUInt16LE(type, 2);
    payload.copy(out, 4);
    return out;
  };
  const link = Buffer.alloc(4);
  link.writeInt32LE(5);
  const body = Buffer.concat([Buffer.alloc(16), attr(3, Buffer.from('vbx\0')), attr(5, link)]);
  body.writeInt32LE(42, 4);
  const head = Buffer.alloc(16);
  head.writeUInt32LE(16 + body.length, 0);
  head.writeUInt16LE(16, 4);
  const answer = Buffer.concat([head, body]);
  assert.equal(linkOf(answer), { index: 42, name: 'vbx', link: 5 });
  assert.is(linkOf(Buffer.alloc(0)), undefined);
  assert.is(linkOf(answer.subarray(0, answer.length - 4)), undefined, 'a message longer than the answer');
  const other = Buffer.from(answer);
  other.writeUInt16LE(20, 4);
  assert.is(linkOf(other), undefined, 'no RTM_NEWLINK in it');
});

test.run();
