import type * as http from 'node:http';
import type * as net from 'node:net';
import { PassThrough } from 'node:stream';
import { encodeFrame } from '@berth/client';
import { FakeDaemon, sendError, sendJson, UPGRADE_RESPONSE } from '@berth/client/testing';
import { DetachKeyScanner, parseDetachKeys } from '@berth/core/detach-keys';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../src/main.js';
import { ID, type TestIo, testIo } from './helpers.js';

/** A terminal on stdin (raw mode recorded, bytes typed by the test) and on stdout (33x91), SIGWINCH on demand. */
function terminalIo(host: string): TestIo & { typed: PassThrough; raw: boolean[]; winch(): void } {
  const base = testIo({ host, stdoutTTY: true });
  const typed = new PassThrough() as PassThrough & { isTTY: boolean; setRawMode(raw: boolean): void };
  const raw: boolean[] = [];
  typed.isTTY = true;
  typed.setRawMode = (r) => void raw.push(r);
  Object.assign(base.stdout, { rows: 33, columns: 91 });
  const winch = new Set<() => void>();
  return {
    ...base,
    stdin: typed,
    typed,
    raw,
    onWindowChange(handler) {
      winch.add(handler);
      return () => winch.delete(handler);
    },
    winch: () => {
      for (const h of winch) h();
    },
  };
}

function until(check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const tick = () => (check() ? resolve() : setTimeout(tick, 5));
    tick();
  });
}

const t = suite<{ fake: FakeDaemon }>('interactive');

t.before.each(async (ctx) => {
  ctx.fake = await FakeDaemon.start('berth-unit-cli');
});

t.after.each(async (ctx) => {
  await ctx.fake.close();
});

t('detach keys: parsed as docker does; a prefix is held back, a broken prefix released, the whole sequence detaches', () => {
  assert.equal([...parseDetachKeys('ctrl-p,ctrl-q')], [16, 17]);
  assert.equal([...parseDetachKeys('ctrl-@,ctrl-_,a')], [0, 31, 97]);
  assert.throws(() => parseDetachKeys('ctrl-1'), /Invalid detach keys \(ctrl-1\) provided/);
  const w = new DetachKeyScanner(parseDetachKeys('ctrl-p,ctrl-q'));
  assert.equal(w.push(Buffer.from('ab\x10')), { pass: Buffer.from('ab'), detach: false });
  assert.equal(w.push(Buffer.from('c')), { pass: Buffer.from('\x10c'), detach: false });
  assert.equal(w.push(Buffer.from('\x10\x10')), { pass: Buffer.from('\x10'), detach: false });
  assert.equal(w.push(Buffer.from('\x11zz')), { pass: Buffer.alloc(0), detach: true });
});

t(
  'run -it: Tty and ConsoleSize at create, raw mode for the session, resize after start and on SIGWINCH, raw output, detach keys leave it running',
  async ({ fake }) => {
    let attach: net.Socket | undefined;
    let typed = '';
    fake.on('POST', '/containers/create', (_req, res) => sendJson(res, 201, { Id: ID, Warnings: [] }));
    fake.onUpgrade('POST', `/containers/${ID}/attach`, (_req, socket) => {
      attach = socket;
      socket.on('data', (d: Buffer) => (typed += d.toString('latin1')));
      socket.write(UPGRADE_RESPONSE);
    });
    fake.on('POST', `/containers/${ID}/wait`, (_req, res: http.ServerResponse) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
    });
    fake.on('POST', `/containers/${ID}/start`, (_req, res) => {
      res.writeHead(204);
      res.end();
      attach?.write('\x01\x00\x00\x00prompt# ');
    });
    fake.on('POST', `/containers/${ID}/resize`, (_req, res) => sendJson(res, 200, {}));
    const io = terminalIo(fake.host);
    const running = main(['run', '-it', 'busybox', 'sh'], io);
    await until(() => fake.find('POST', `/containers/${ID}/resize`).length === 1);
    Object.assign(io.stdout, { rows: 40, columns: 100 });
    io.winch();
    await until(() => fake.find('POST', `/containers/${ID}/resize`).length === 2);
    io.typed.write('ls\r\x10');
    await until(() => typed === 'ls\r');
    io.typed.write('\x11');
    assert.is(await running, 0);
    const create = JSON.parse(fake.find('POST', '/containers/create')[0]!.body.toString());
    assert.equal([create.Tty, create.OpenStdin, create.AttachStdin, create.HostConfig.ConsoleSize], [true, true, true, [33, 91]]);
    const sizes = fake.find('POST', `/containers/${ID}/resize`).map((r) => `${r.query.get('h')}x${r.query.get('w')}`);
    assert.equal(sizes, ['33x91', '40x100']);
    assert.is(io.out(), '\x01\x00\x00\x00prompt# ', 'a tty stream is raw bytes, never demultiplexed');
    assert.is(typed, 'ls\r', 'the detach keys never reach the container');
    assert.equal(io.raw, [true, false]);
    assert.is(fake.find('POST', `/containers/${ID}/kill`).length, 0);
    assert.is(io.subscribers(), 0, 'no sig-proxy with a tty');
  },
);

t(
  'exec: the create body from -e -w -u --privileged -i, stdin piped and half-closed, frames split, exit code from inspect',
  async ({ fake }) => {
    fake.on('POST', '/containers/box/exec', (_req, res) => sendJson(res, 201, { Id: 'e1' }));
    fake.onUpgrade('POST', '/exec/e1/start', (_req, socket) => {
      let input = '';
      socket.on('data', (d: Buffer) => (input += d));
      socket.on('end', () => socket.end(Buffer.concat([encodeFrame(1, `got:${input}`), encodeFrame(2, 'err\n')])));
      socket.write(UPGRADE_RESPONSE);
    });
    fake.on('GET', '/exec/e1/json', (_req, res) => sendJson(res, 200, { ID: 'e1', Running: false, ExitCode: 4 }));
    const io = testIo({ host: fake.host, input: 'hello\n', env: { FROM_ENV: 'x' } });
    const code = await main(
      ['exec', '-i', '-e', 'A=1', '-e', 'FROM_ENV', '-w', '/tmp', '-u', '1000:1000', '--privileged', 'box', 'sh', '-c', 'cat'],
      io,
    );
    assert.is(code, 4);
    assert.is(io.out(), 'got:hello\n');
    assert.is(io.err(), 'err\n');
    const body = JSON.parse(fake.find('POST', '/containers/box/exec')[0]!.body.toString());
    assert.equal(body, {
      User: '1000:1000',
      Privileged: true,
      Tty: false,
      ConsoleSize: null,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      DetachKeys: '',
      Env: ['A=1', 'FROM_ENV=x'],
      WorkingDir: '/tmp',
      Cmd: ['sh', '-c', 'cat'],
    });
    assert.equal(JSON.parse(fake.find('POST', '/exec/e1/start')[0]!.body.toString()), { Detach: false, Tty: false });
  },
);

t(
  'exec -d starts detached and prints nothing; exec -it without a terminal and exec in a stopped container fail like docker',
  async ({ fake }) => {
    fake.on('POST', '/containers/box/exec', (_req, res) => sendJson(res, 201, { Id: 'd1' }));
    fake.on('POST', '/exec/d1/start', (_req, res) => {
      res.writeHead(200);
      res.end();
    });
    fake.on('POST', '/containers/gone/exec', (_req, res) => sendError(res, 409, 'container gone is not running'));
    let io = testIo({ host: fake.host });
    assert.is(await main(['exec', '-d', 'box', 'sleep', '5'], io), 0);
    assert.is(io.out(), '');
    assert.equal(JSON.parse(fake.find('POST', '/exec/d1/start')[0]!.body.toString()), { Detach: true, Tty: false });
    assert.is(JSON.parse(fake.find('POST', '/containers/box/exec')[0]!.body.toString()).AttachStdout, false);
    io = testIo({ host: fake.host });
    assert.is(await main(['exec', '-it', 'box', 'sh'], io), 1);
    assert.is(io.err(), 'the input device is not a TTY\n');
    io = testIo({ host: fake.host });
    assert.is(await main(['exec', 'gone', 'true'], io), 1);
    assert.is(io.err(), 'Error response from daemon: container gone is not running\n');
  },
);

t(
  'exec -it: a resize of the exec after start, raw output; attach: refuses a stopped container, detach keys say "read escape sequence"',
  async ({ fake }) => {
    fake.on('POST', '/containers/box/exec', (_req, res) => sendJson(res, 201, { Id: 't1' }));
    fake.onUpgrade('POST', '/exec/t1/start', (_req, socket) => {
      socket.write(UPGRADE_RESPONSE);
      setTimeout(() => socket.end('/dev/pts/0\r\n'), 50);
    });
    fake.on('POST', '/exec/t1/resize', (_req, res) => sendJson(res, 200, {}));
    fake.on('GET', '/exec/t1/json', (_req, res) => sendJson(res, 200, { ID: 't1', Running: false, ExitCode: 0 }));
    let io: TestIo = terminalIo(fake.host);
    assert.is(await main(['exec', '-it', 'box', 'tty'], io), 0);
    assert.is(io.out(), '/dev/pts/0\r\n');
    const resize = fake.find('POST', '/exec/t1/resize')[0]!;
    assert.equal([resize.query.get('h'), resize.query.get('w')], ['33', '91']);
    assert.equal(JSON.parse(fake.find('POST', '/containers/box/exec')[0]!.body.toString()).ConsoleSize, [33, 91]);

    fake.on('GET', '/containers/off/json', (_req, res) => sendJson(res, 200, { Id: 'off', State: { Running: false }, Config: {} }));
    io = testIo({ host: fake.host });
    assert.is(await main(['attach', 'off'], io), 1);
    assert.is(io.err(), 'You cannot attach to a stopped container, start it first\n');

    fake.on('GET', '/containers/sh/json', (_req, res) =>
      sendJson(res, 200, { Id: 'sh', State: { Running: true }, Config: { Tty: true, OpenStdin: true } }),
    );
    fake.on('POST', '/containers/sh/wait', (_req, res: http.ServerResponse) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
    });
    fake.onUpgrade('POST', '/containers/sh/attach', (_req, socket) => {
      socket.write(UPGRADE_RESPONSE);
    });
    fake.on('POST', '/containers/sh/resize', (_req, res) => sendJson(res, 200, {}));
    const tio = terminalIo(fake.host);
    const attached = main(['attach', '--detach-keys', 'ctrl-x', 'sh'], tio);
    await until(() => fake.find('POST', '/containers/sh/attach').length === 1);
    tio.typed.write('\x18');
    assert.is(await attached, 1);
    assert.is(tio.err(), 'read escape sequence\n');
    const q = fake.find('POST', '/containers/sh/attach')[0]!.query;
    assert.equal([q.get('stdin'), q.get('detachKeys')], ['1', 'ctrl-x']);
  },
);

t.run();
