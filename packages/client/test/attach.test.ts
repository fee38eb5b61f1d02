import type * as net from 'node:net';
import { Writable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiError, BerthClient, encodeFrame } from '../src/index.js';
import { FakeDaemon, sendError, sendJson, UPGRADE_RESPONSE } from '../src/testing/fake-daemon.js';

interface Ctx {
  fake: FakeDaemon;
  client: BerthClient;
}

const t = suite<Ctx>('attach');

t.before.each(async (ctx) => {
  ctx.fake = await FakeDaemon.start('berth-unit-client');
  ctx.client = new BerthClient({ host: ctx.fake.host });
});

t.after.each(async (ctx) => {
  ctx.client.close();
  await ctx.fake.close();
});

/** Resolves with the bytes the client sent until it half-closed. */
function readUntilEnd(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

function collect(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString()));
  });
}

t('hijack: 101, frames split across writes, output separated, client half-closes at once', async ({ fake, client }) => {
  fake.onUpgrade('POST', '/containers/c1/attach', async (req, socket) => {
    assert.is(req.headers.connection, 'Upgrade');
    assert.is(req.headers.upgrade, 'tcp');
    const clientDone = readUntilEnd(socket);
    // The first frame travels in the same write as the 101: it reaches the client in `head`.
    socket.write(Buffer.concat([Buffer.from(UPGRADE_RESPONSE), encodeFrame(1, 'hello\n')]));
    const stdinBytes = await clientDone;
    fake.note(`client half-closed after ${stdinBytes.length} bytes`);
    const rest = Buffer.concat([encodeFrame(2, 'oops\n'), encodeFrame(1, 'bye\n')]);
    socket.write(rest.subarray(0, 5));
    setTimeout(() => socket.end(rest.subarray(5)), 10);
  });
  const att = await client.containers.attach('c1', { tty: false });
  const [out, err] = await Promise.all([collect(att.stdout), collect(att.stderr), att.done]);
  assert.is(out, 'hello\nbye\n');
  assert.is(err, 'oops\n');
  assert.equal(fake.log, ['POST /containers/c1/attach', 'client half-closed after 0 bytes']);
  const q = fake.requests[0]!.query;
  assert.equal([q.get('stdout'), q.get('stderr'), q.get('stream'), q.get('stdin')], ['1', '1', '1', null]);
});

t('stdin: bytes reach the daemon, half-close ends them, output still arrives', async ({ fake, client }) => {
  fake.onUpgrade('POST', '/containers/c2/attach', async (_req, socket) => {
    const input = readUntilEnd(socket);
    socket.write(UPGRADE_RESPONSE);
    const data = await input;
    socket.end(encodeFrame(1, `got:${data.toString()}`));
  });
  const att = await client.containers.attach('c2', { stdin: true, tty: false });
  assert.is(fake.requests[0]!.query.get('stdin'), '1');
  att.write('line1\n');
  att.write(Buffer.from('line2\n'));
  att.closeStdin();
  const out = await collect(att.stdout);
  await att.done;
  assert.is(out, 'got:line1\nline2\n');
});

t('tty: output is raw, nothing is demultiplexed', async ({ fake, client }) => {
  fake.onUpgrade('POST', '/containers/t/attach', (_req, socket) => {
    socket.write(UPGRADE_RESPONSE);
    socket.end('\u0001not a frame\r\n');
  });
  const att = await client.containers.attach('t', { tty: true });
  const out = await collect(att.stdout);
  await att.done;
  assert.is(out, '\u0001not a frame\r\n');
});

t('forward copies both streams without ending the targets', async ({ fake, client }) => {
  fake.onUpgrade('POST', '/containers/f/attach', (_req, socket) => {
    socket.write(UPGRADE_RESPONSE);
    socket.end(Buffer.concat([encodeFrame(1, 'a'), encodeFrame(2, 'b'), encodeFrame(1, 'c')]));
  });
  const att = await client.containers.attach('f', { tty: false });
  const seen: string[] = [];
  const target = (name: string): Writable =>
    new Writable({
      write(chunk: Buffer, _e, cb) {
        seen.push(`${name}:${chunk}`);
        cb();
      },
    });
  const out = target('out');
  const err = target('err');
  await att.forward(out, err);
  assert.equal(seen, ['out:a', 'err:b', 'out:c']);
  assert.not.ok(out.writableEnded, 'targets stay open');
});

t('a frame header that is not one fails `done` instead of printing garbage', async ({ fake, client }) => {
  fake.onUpgrade('POST', '/containers/g/attach', (_req, socket) => {
    socket.write(UPGRADE_RESPONSE);
    socket.end('raw output from a tty');
  });
  const att = await client.containers.attach('g', { tty: false });
  att.stdout.resume();
  att.stderr.resume();
  const err = await att.done.catch((e: unknown) => e);
  assert.match(String(err), /unrecognized stream frame header/);
});

t('attach errors are ApiErrors; tty comes from inspect when not given', async ({ fake, client }) => {
  fake.on('GET', '/containers/nosuch/json', (_req, res) => sendError(res, 404, 'No such container: nosuch'));
  fake.on('GET', '/containers/t2/json', (_req, res) => sendJson(res, 200, { Id: 't2', Config: { Tty: true } }));
  fake.onUpgrade('POST', '/containers/t2/attach', (_req, socket) => {
    socket.write(UPGRADE_RESPONSE);
    socket.end('raw');
  });
  const err = await client.containers.attach('nosuch').catch((e: unknown) => e);
  assert.instance(err, ApiError);
  assert.is((err as ApiError).status, 404);
  const att = await client.containers.attach('t2');
  assert.ok(att.tty);
  assert.is(await collect(att.stdout), 'raw');
});

t('a 404 on the hijack itself is an ApiError', async ({ client }) => {
  const err = await client.containers.attach('zzz', { tty: false }).catch((e: unknown) => e);
  assert.instance(err, ApiError);
  assert.is((err as ApiError).message, 'page not found');
});

t('a daemon that answers 200 instead of 101 still streams the output', async ({ fake, client }) => {
  fake.onUpgrade('POST', '/containers/old/attach', (_req, socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n');
    socket.end(encodeFrame(1, 'via 200\n'));
  });
  const att = await client.containers.attach('old', { tty: false });
  assert.is(await collect(att.stdout), 'via 200\n');
  await att.done;
});

t('close() detaches: done resolves, the daemon sees the client go (EOF)', async ({ fake, client }) => {
  let closed!: Promise<'eof'>;
  fake.onUpgrade('POST', '/containers/d/attach', (_req, socket) => {
    closed = new Promise((resolve) => socket.on('end', () => resolve('eof')));
    socket.write(UPGRADE_RESPONSE);
    socket.write(encodeFrame(1, 'running...\n'));
  });
  const att = await client.containers.attach('d', { tty: false, stdin: true });
  att.stderr.resume();
  // Attached and streaming before the close: the first output has arrived.
  const first = await new Promise<string>((resolve) => att.stdout.once('data', (d: Buffer) => resolve(d.toString())));
  assert.is(first, 'running...\n');
  att.close();
  const done = await att.done.then(
    () => 'resolved',
    (err: unknown) => `rejected: ${err}`,
  );
  assert.is(done, 'resolved');
  // The daemon keeps its end open, so only the client's FIN can end it; a bound, so that
  // a close() that sends nothing fails here rather than by the test's time limit.
  const seen = await Promise.race([closed, new Promise<'no eof'>((resolve) => setTimeout(() => resolve('no eof'), 2000).unref())]);
  assert.is(seen, 'eof', 'the daemon saw no EOF after close()');
});

t.run();
