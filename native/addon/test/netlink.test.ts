import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { netlinkRequestsMax, netlinkTransact, netlinkTransactSync } from '../src/index.js';

// rtnetlink(7), written out by hand here: the addon is only the transport.
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const IFLA_IFNAME = 3;
const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;

/** What a refusal carries besides Node's fs-error fields. */
type NetlinkError = NodeJS.ErrnoException & { index: number };

let seq = 1000;
function attr(type: number, payload: Buffer): Buffer {
  const out = Buffer.alloc((4 + payload.length + 3) & ~3);
  out.writeUInt16LE(4 + payload.length, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}
function request(type: number, flags: number, attrs: Buffer[] = []): Buffer {
  const body = Buffer.concat([Buffer.alloc(16), ...attrs]); // ifinfomsg, all zero
  const header = Buffer.alloc(16);
  header.writeUInt32LE(16 + body.length, 0);
  header.writeUInt16LE(type, 4);
  header.writeUInt16LE(NLM_F_REQUEST | flags, 6);
  header.writeUInt32LE(++seq, 8);
  return Buffer.concat([header, body]);
}
const name = (n: string) => attr(IFLA_IFNAME, Buffer.from(`${n}\0`));
const getLink = (n: string) => request(RTM_GETLINK, NLM_F_ACK, [name(n)]);
const newBridge = (n: string) =>
  request(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, [name(n), attr(IFLA_LINKINFO, attr(IFLA_INFO_KIND, Buffer.from('bridge')))]);
const delLink = (n: string) => request(RTM_DELLINK, NLM_F_ACK, [name(n)]);

/** The messages of an answer: their types and, for RTM_NEWLINK, the link's index and name. */
function messages(answer: Buffer): Array<{ type: number; index?: number; name?: string }> {
  const found: Array<{ type: number; index?: number; name?: string }> = [];
  for (let at = 0; at + 16 <= answer.length; ) {
    const len = answer.readUInt32LE(at);
    const type = answer.readUInt16LE(at + 4);
    const m: { type: number; index?: number; name?: string } = { type };
    if (type === RTM_NEWLINK) {
      m.index = answer.readInt32LE(at + 20);
      for (let a = at + 32; a + 4 <= at + len; ) {
        const alen = answer.readUInt16LE(a);
        if (alen < 4) break;
        if (answer.readUInt16LE(a + 2) === IFLA_IFNAME) m.name = answer.toString('utf8', a + 4, a + alen - 1);
        a += (alen + 3) & ~3;
      }
    }
    found.push(m);
    at += (len + 3) & ~3;
  }
  return found;
}

/** A network namespace of the test's own (a sleeping process in it), and its descriptor. */
async function namespace(): Promise<{ child: ChildProcess; fd: number; close: () => void }> {
  const child = spawn('unshare', ['--net', 'sleep', '30'], { stdio: 'ignore' });
  const ours = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 300 && readlinkSync(`/proc/${child.pid}/ns/net`) === ours; i++) await new Promise((r) => setTimeout(r, 10));
  const fd = openSync(`/proc/${child.pid}/ns/net`, 'r');
  return {
    child,
    fd,
    close: () => {
      closeSync(fd);
      child.kill('SIGKILL');
    },
  };
}

const link = `bnl${process.pid % 100000}`;

test('netlinkTransact answers each request: a link look-up, a dump ended by NLMSG_DONE', async () => {
  const [lo, dump] = await netlinkTransact([getLink('lo'), request(RTM_GETLINK, NLM_F_DUMP)]);
  assert.equal(messages(lo!), [{ type: RTM_NEWLINK, index: 1, name: 'lo' }]);
  const links = messages(dump!);
  assert.ok(links.length >= 1 && links.every((m) => m.type === RTM_NEWLINK));
  assert.ok(links.some((m) => m.name === 'lo'));
});

test('netlinkTransact in another namespace: the link is made there, not in the caller’s', async () => {
  const ns = await namespace();
  try {
    const [made, seen] = await netlinkTransact([newBridge(link), getLink(link)], { netnsFd: ns.fd });
    assert.is(made!.length, 0, 'a request that is only acknowledged answers nothing');
    assert.is(messages(seen!)[0]!.name, link);
    const inside = execFileSync('nsenter', [`--net=/proc/${ns.child.pid}/ns/net`, 'ip', '-o', 'link', 'show', link], { encoding: 'utf8' });
    assert.match(inside, link);
    const here = await netlinkTransact([getLink(link)]).catch((err) => err);
    assert.is(here.code, 'ENODEV', 'the caller’s namespace has no such link');
    // The pool thread that ran the job stays where it was: the next job on it sees the host.
    for (let i = 0; i < 8; i++) assert.is(messages((await netlinkTransact([getLink('lo')]))[0]!)[0]!.name, 'lo');
  } finally {
    ns.close();
  }
});

test('netlinkTransact stops at the first refusal: errno, the request index, what came before stays done', async () => {
  const ns = await namespace();
  try {
    const err: NetlinkError = await netlinkTransact([newBridge(link), delLink('bnl-absent'), delLink(link)], { netnsFd: ns.fd }).then(
      () => assert.unreachable('the second request was refused'),
      (e) => e,
    );
    assert.ok(err instanceof Error);
    assert.is(err.code, 'ENODEV');
    assert.is(err.errno, -19);
    assert.is(err.syscall, 'netlink');
    assert.is(err.index, 1);
    assert.is(typeof err.path, 'string', "the kernel's extended-ack text, possibly empty");
    const [still] = await netlinkTransact([getLink(link)], { netnsFd: ns.fd });
    assert.is(messages(still!)[0]!.name, link, 'the request before the refusal was done, the one after was not');
    const dup = await netlinkTransact([newBridge(link)], { netnsFd: ns.fd }).catch((e) => e);
    assert.is(dup.code, 'EEXIST');
    assert.is(dup.index, 0);
  } finally {
    ns.close();
  }
});

test("a refusal carries the kernel's extended-ack text in path", async () => {
  const unknownKind = request(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, [
    name(link),
    attr(IFLA_LINKINFO, attr(IFLA_INFO_KIND, Buffer.from('berth-no-such-kind'))),
  ]);
  const err = await netlinkTransact([unknownKind]).catch((e) => e);
  assert.is(err.code, 'EOPNOTSUPP');
  assert.match(err.path, /device type/i);
  assert.match(err.message, /^EOPNOTSUPP: operation not supported, netlink '.*device type'$/i);
});

test('netlinkTransactSync runs on the calling thread: replies returned, a refusal thrown', () => {
  assert.is(messages(netlinkTransactSync([getLink('lo')])[0]!)[0]!.index, 1);
  assert.throws(
    () => netlinkTransactSync([delLink('bnl-absent')]),
    (e: NodeJS.ErrnoException) => e.code === 'ENODEV',
  );
});

test('netlinkTransact refuses bad arguments at the call', () => {
  assert.throws(() => netlinkTransact('x' as unknown as Buffer[]), /requests must be an array/);
  assert.throws(() => netlinkTransact([Buffer.alloc(8)]), /nlmsg_len is its length/);
  const wrongLength = getLink('lo');
  wrongLength.writeUInt32LE(wrongLength.length + 4, 0);
  assert.throws(() => netlinkTransact([wrongLength]), /nlmsg_len is its length/);
  assert.throws(() => netlinkTransact(Array.from({ length: netlinkRequestsMax + 1 }, () => getLink('lo'))), /too many requests/);
  assert.throws(() => netlinkTransact([getLink('lo')], { netnsFd: -2 }), /invalid netnsFd/);
});

test('netlinkTransact with a descriptor that is no namespace fails with setns’s errno, index -1', async () => {
  const fd = openSync('/proc/self/stat', 'r');
  try {
    const err = await netlinkTransact([getLink('lo')], { netnsFd: fd }).catch((e) => e);
    assert.is(err.code, 'EINVAL');
    assert.is(err.syscall, 'setns');
    assert.is(err.index, -1);
  } finally {
    closeSync(fd);
  }
});

test.run();
