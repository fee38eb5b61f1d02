import { execFileSync, spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { closeSync, readlinkSync } from 'node:fs';
import * as net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { socketInNetns } from '../src/index.js';

/** A network namespace of the test's own (unshare); its path and a way to end it. */
async function namespace(): Promise<{ path: string; end: () => void }> {
  const child = spawn('unshare', ['--net', 'sleep', '30'], { stdio: 'ignore' });
  const path = `/proc/${child.pid}/ns/net`;
  const ours = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 300; i++) {
    try {
      if (readlinkSync(path) !== ours) return { path, end: () => child.kill('SIGKILL') };
    } catch {}
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGKILL');
  throw new Error('unshare made no namespace');
}

test('a UDP socket made in another namespace answers there, and this thread stays in its own namespace', async () => {
  const ns = await namespace();
  const ours = readlinkSync('/proc/thread-self/ns/net');
  try {
    const server = dgram.createSocket('udp4');
    await new Promise<void>((r) => server.bind({ fd: socketInNetns(ns.path, 'udp', '127.0.0.11', 5353) }, r));
    assert.is(readlinkSync('/proc/thread-self/ns/net'), ours);
    server.on('message', (msg, from) => server.send(Buffer.concat([Buffer.from('re:'), msg]), from.port, from.address));
    // The client in the same namespace (lo is down there: IP_FREEBIND let both bind; bring it up for traffic).
    const client = dgram.createSocket('udp4');
    const clientFd = socketInNetns(ns.path, 'udp', '127.0.0.1', 0);
    await new Promise<void>((r) => client.bind({ fd: clientFd }, r));
    execFileSync('nsenter', [`--net=${ns.path}`, 'ip', 'link', 'set', 'lo', 'up']);
    const reply = await new Promise<string>((resolve) => {
      client.on('message', (m) => resolve(m.toString()));
      client.send('hi', 5353, '127.0.0.11');
    });
    assert.is(reply, 're:hi');
    // Not in this namespace: nothing listens on 127.0.0.11:5353 here.
    const here = dgram.createSocket('udp4');
    const heard = await new Promise<boolean>((resolve) => {
      here.on('message', () => resolve(true));
      here.on('error', () => resolve(false));
      setTimeout(() => resolve(false), 200);
      here.send('hi', 5353, '127.0.0.11');
    });
    assert.is(heard, false);
    for (const s of [server, client, here]) s.close();
  } finally {
    ns.end();
  }
});

test('a TCP socket made in another namespace listens there', async () => {
  const ns = await namespace();
  try {
    execFileSync('nsenter', [`--net=${ns.path}`, 'ip', 'link', 'set', 'lo', 'up']);
    const server = net.createServer((c) => c.end('hello'));
    await new Promise<void>((r) => server.listen({ fd: socketInNetns(ns.path, 'tcp', '127.0.0.11', 53) }, r));
    const out = await new Promise<string>((resolve, reject) =>
      spawn('nsenter', [`--net=${ns.path}`, process.execPath, '-e', "require('net').connect(53,'127.0.0.11').pipe(process.stdout)"], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
        .on('error', reject)
        .stdout!.on('data', (d) => resolve(d.toString())),
    );
    assert.is(out, 'hello');
    server.close();
  } finally {
    ns.end();
  }
});

test('errors name the call and the path: a namespace that does not exist, an address taken, a bad address', async () => {
  assert.throws(() => socketInNetns('/proc/999999999/ns/net', 'udp', '127.0.0.11', 53), /ENOENT: .*open '\/proc\/999999999\/ns\/net'/);
  assert.throws(() => socketInNetns('/proc/self/ns/net', 'udp', 'not-an-address', 53), /EINVAL/);
  const ns = await namespace();
  try {
    const fd = socketInNetns(ns.path, 'tcp', '127.0.0.11', 53);
    assert.throws(() => socketInNetns(ns.path, 'tcp', '127.0.0.11', 53), /EADDRINUSE: .*bind/);
    closeSync(fd);
  } finally {
    ns.end();
  }
});

test.run();
