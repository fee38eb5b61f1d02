import type * as net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BerthClient, encodeFrame } from '../src/index.js';
import { FakeDaemon, sendJson, UPGRADE_RESPONSE } from '../src/testing/fake-daemon.js';

interface Ctx {
  fake: FakeDaemon;
  client: BerthClient;
}

const t = suite<Ctx>('exec');

t.before.each(async (ctx) => {
  ctx.fake = await FakeDaemon.start('berth-unit-client');
  ctx.client = new BerthClient({ host: ctx.fake.host });
});

t.after.each(async (ctx) => {
  ctx.client.close();
  await ctx.fake.close();
});

function readUntilEnd(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    socket.on('data', (c: Buffer) => (data += c.toString()));
    socket.on('end', () => resolve(data));
  });
}

function collect(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString()));
  });
}

t(
  'create sends the body; start hijacks with {Detach:false,Tty}; frames demultiplexed; stdin reaches the daemon',
  async ({ fake, client }) => {
    fake.on('POST', '/containers/box/exec', (_req, res) => sendJson(res, 201, { Id: 'e1' }));
    fake.onUpgrade('POST', '/exec/e1/start', async (_req, socket) => {
      const input = readUntilEnd(socket);
      socket.write(UPGRADE_RESPONSE);
      const got = await input;
      socket.end(Buffer.concat([encodeFrame(1, `in:${got}`), encodeFrame(2, 'warn\n')]));
    });
    fake.on('GET', '/exec/e1/json', (_req, res) => sendJson(res, 200, { ID: 'e1', Running: false, ExitCode: 3 }));
    const { Id } = await client.execs.create('box', {
      Cmd: ['cat'],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Env: ['A=1'],
    });
    assert.is(Id, 'e1');
    const att = await client.execs.start(Id, { stdin: true });
    att.write('hello');
    att.closeStdin();
    const [out, err] = await Promise.all([collect(att.stdout), collect(att.stderr), att.done]);
    assert.is(out, 'in:hello');
    assert.is(err, 'warn\n');
    assert.is((await client.execs.inspect(Id)).ExitCode, 3);
    assert.equal(JSON.parse(fake.requests[0]!.body.toString()), {
      Cmd: ['cat'],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Env: ['A=1'],
    });
    const start = fake.requests[1]!;
    assert.is(start.headers.upgrade, 'tcp');
    assert.equal(JSON.parse(start.body.toString()), { Detach: false, Tty: false });
  },
);

t('a tty exec is raw output; resize and detached start; container resize and attach detachKeys', async ({ fake, client }) => {
  fake.onUpgrade('POST', '/exec/t1/start', (_req, socket) => {
    socket.write(UPGRADE_RESPONSE);
    socket.end('\x01\x00raw bytes\r\n');
  });
  fake.on('POST', '/exec/t1/resize', (_req, res) => sendJson(res, 200, {}));
  fake.on('POST', '/exec/d1/start', (_req, res) => {
    res.writeHead(200);
    res.end();
  });
  fake.on('POST', '/containers/c/resize', (_req, res) => sendJson(res, 200, {}));
  fake.onUpgrade('POST', '/containers/c/attach', (_req, socket) => {
    socket.end(UPGRADE_RESPONSE);
  });
  const att = await client.execs.start('t1', { tty: true });
  assert.is(await collect(att.stdout), '\x01\x00raw bytes\r\n');
  await client.execs.resize('t1', 24, 80);
  await client.execs.startDetached('d1');
  await client.containers.resize('c', 30, 100);
  const a = await client.containers.attach('c', { tty: true, stdin: true, detachKeys: 'ctrl-x' });
  await a.forward(process.stdout);
  const byPath = (p: string) => fake.requests.find((r) => r.path === p)!;
  assert.equal([byPath('/exec/t1/resize').query.get('h'), byPath('/exec/t1/resize').query.get('w')], ['24', '80']);
  assert.equal(JSON.parse(byPath('/exec/d1/start').body.toString()), { Detach: true, Tty: false });
  assert.equal([byPath('/containers/c/resize').query.get('h'), byPath('/containers/c/resize').query.get('w')], ['30', '100']);
  assert.is(byPath('/containers/c/attach').query.get('detachKeys'), 'ctrl-x');
});

t.run();
