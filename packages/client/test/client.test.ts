import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiError, BerthClient, ConnectionError, encodeFrame, resolveSocketPath } from '../src/index.js';
import { FakeDaemon, sendError, sendJson } from '../src/testing/fake-daemon.js';

interface Ctx {
  fake: FakeDaemon;
  client: BerthClient;
}

const t = suite<Ctx>('client');

t.before.each(async (ctx) => {
  ctx.fake = await FakeDaemon.start('berth-unit-client');
  ctx.client = new BerthClient({ host: ctx.fake.host });
});

t.after.each(async (ctx) => {
  ctx.client.close();
  await ctx.fake.close();
});

t('host: explicit, BERTH_HOST, DOCKER_HOST, default; other schemes refused', () => {
  assert.is(resolveSocketPath('unix:///a/b.sock', {}), '/a/b.sock');
  assert.is(resolveSocketPath(undefined, { BERTH_HOST: 'unix:///x.sock', DOCKER_HOST: 'unix:///y.sock' }), '/x.sock');
  assert.is(resolveSocketPath(undefined, { DOCKER_HOST: 'unix:///y.sock' }), '/y.sock');
  assert.is(resolveSocketPath(undefined, {}), '/run/berth/berth.sock');
  assert.throws(() => resolveSocketPath('tcp://127.0.0.1:2375', {}), /unix:\/\/ sockets only/);
  assert.throws(() => resolveSocketPath('unix://relative.sock', {}), /must be absolute/);
});

t('ping, version, info and plugins use versioned paths and parse JSON', async ({ fake, client }) => {
  fake.on('GET', '/version', (_req, res) => sendJson(res, 200, { Version: '0.1.0', ApiVersion: '1.41' }));
  fake.on('GET', '/info', (_req, res) => sendJson(res, 200, { ServerVersion: '0.1.0', NCPU: 2 }));
  fake.on('GET', '/berth/plugins', (_req, res) =>
    sendJson(res, 200, [{ kind: 'storage', name: 'overlay', status: 'ok', reason: '', description: '' }]),
  );
  const ping = await client.ping();
  assert.is(ping.apiVersion, '1.41');
  assert.is((await client.version()).Version, '0.1.0');
  assert.is((await client.info()).NCPU, 2);
  assert.is((await client.plugins())[0]!.name, 'overlay');
  assert.equal(
    fake.requests.map((r) => `${r.method} ${r.rawPath}`),
    ['GET /v1.41/_ping', 'GET /v1.41/version', 'GET /v1.41/info', 'GET /v1.41/berth/plugins'],
  );
  assert.is(fake.connections, 1, 'plain calls share one keep-alive connection');
});

t('daemon errors become ApiError with status and message', async ({ fake, client }) => {
  fake.on('GET', /^\/containers\/[^/]+\/json$/, (req, res) => sendError(res, 404, `No such container: ${req.path.split('/')[2]}`));
  fake.on('DELETE', /^\/containers\//, (_req, res) => {
    res.writeHead(409, { 'Content-Type': 'text/plain' });
    res.end('plain text conflict\n');
  });
  const err = await client.containers.inspect('nosuch').catch((e: unknown) => e);
  assert.instance(err, ApiError);
  assert.is((err as ApiError).status, 404);
  assert.is((err as ApiError).message, 'No such container: nosuch');
  assert.is((err as ApiError).request, 'GET /containers/nosuch/json');
  const text = await client.containers.remove('c').catch((e: unknown) => e);
  assert.is((text as ApiError).status, 409);
  assert.is((text as ApiError).message, 'plain text conflict');
});

t('a missing socket is a clear connection error', async ({ fake }) => {
  const missing = path.join(fake.dir, 'nosuch.sock');
  const client = new BerthClient({ host: `unix://${missing}` });
  const err = await client.version().catch((e: unknown) => e);
  assert.instance(err, ConnectionError);
  assert.is((err as Error).message, `Cannot connect to the berth daemon at unix://${missing}. Is berthd running?`);
  fs.writeFileSync(missing, '');
  const refused = await client.version().catch((e: unknown) => e);
  assert.instance(refused, ConnectionError);
  assert.match((refused as Error).message, /Cannot connect to the berth daemon/);
  client.close();
});

t('create sends JSON and the name; list encodes filters like the CLI', async ({ fake, client }) => {
  fake.on('POST', '/containers/create', (_req, res) => sendJson(res, 201, { Id: 'a'.repeat(64), Warnings: [] }));
  fake.on('GET', '/containers/json', (_req, res) => sendJson(res, 200, []));
  const created = await client.containers.create({ Image: 'busybox', Cmd: ['true'] }, 'web');
  assert.is(created.Id, 'a'.repeat(64));
  const req = fake.find('POST', '/containers/create')[0]!;
  assert.is(req.query.get('name'), 'web');
  assert.is(req.headers['content-type'], 'application/json');
  assert.equal(JSON.parse(req.body.toString()), { Image: 'busybox', Cmd: ['true'] });
  await client.containers.list({ all: true, filters: { name: ['web', 'db'], status: ['exited'] } });
  const list = fake.find('GET', '/containers/json')[0]!;
  assert.is(list.query.get('all'), '1');
  assert.equal(JSON.parse(list.query.get('filters')!), { name: { web: true, db: true }, status: { exited: true } });
  await client.containers.list();
  assert.is(fake.find('GET', '/containers/json')[1]!.query.toString(), '', 'no parameters when none are set');
});

t('start, stop, kill, remove send the documented parameters', async ({ fake, client }) => {
  const noContent = (_req: unknown, res: import('node:http').ServerResponse): void => {
    res.writeHead(204);
    res.end();
  };
  fake.on('POST', /^\/containers\/[^/]+\/(start|stop|kill)$/, noContent);
  fake.on('DELETE', /^\/containers\/[^/]+$/, noContent);
  await client.containers.start('c1');
  await client.containers.stop('c1', 2);
  await client.containers.kill('c1', 'HUP');
  await client.containers.remove('c1', { force: true, v: true });
  assert.equal(
    fake.requests.map((r) => `${r.method} ${r.path}?${r.query}`),
    [
      'POST /containers/c1/start?',
      'POST /containers/c1/stop?t=2',
      'POST /containers/c1/kill?signal=HUP',
      'DELETE /containers/c1?force=1&v=1',
    ],
  );
  assert.is(fake.requests[0]!.headers['content-length'], '0', 'an empty POST says so');
});

t('waitHandle resolves when the headers arrive, the result when the body does', async ({ fake, client }) => {
  let finish: (code: number) => void = () => {};
  fake.on('POST', /\/wait$/, (req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      fake.note('wait headers sent');
      finish = (code) => res.end(`${JSON.stringify({ Error: null, StatusCode: code })}\n`);
    }, 80);
    assert.is(req.query.get('condition'), 'removed');
  });
  const handle = await client.containers.waitHandle('c1', 'removed');
  fake.note('handle resolved');
  assert.equal(fake.log, ['POST /containers/c1/wait', 'wait headers sent', 'handle resolved']);
  let settled = false;
  void handle.result.then(() => (settled = true));
  await new Promise((r) => setTimeout(r, 30));
  assert.not.ok(settled, 'the result waits for the body');
  finish(7);
  assert.equal(await handle.result, { StatusCode: 7, Error: null });
});

t('wait reports the daemon Error message', async ({ fake, client }) => {
  fake.on('POST', /\/wait$/, (_req, res) => sendJson(res, 200, { StatusCode: 137, Error: { Message: 'container vanished' } }));
  assert.equal(await client.containers.wait('c'), { StatusCode: 137, Error: { Message: 'container vanished' } });
  assert.is(fake.requests[0]!.query.get('condition'), null, 'no condition unless asked');
});

t('logs demultiplex into the sinks; tty logs are copied raw', async ({ fake, client }) => {
  fake.on('GET', /\/logs$/, (req, res) => {
    res.writeHead(200);
    if (req.path.includes('tty')) {
      res.write('raw\r\n');
      res.end('more\r\n');
      return;
    }
    res.write(encodeFrame(1, 'out1\n'));
    res.write(Buffer.concat([encodeFrame(2, 'err1\n'), encodeFrame(1, 'out2\n')]).subarray(0, 9));
    setTimeout(() => res.end(Buffer.concat([encodeFrame(2, 'err1\n'), encodeFrame(1, 'out2\n')]).subarray(9)), 10);
  });
  const out = sink();
  const err = sink();
  await client.containers.logs('c', { tail: 2, timestamps: true, since: '1795378306.5', tty: false }, { stdout: out, stderr: err });
  assert.is(out.text(), 'out1\nout2\n');
  assert.is(err.text(), 'err1\n');
  const q = fake.requests[0]!.query;
  assert.is(q.toString(), 'stdout=1&stderr=1&since=1795378306.5&timestamps=1&tail=2');
  const raw = sink();
  await client.containers.logs('tty', { tty: true, follow: true }, { stdout: raw });
  assert.is(raw.text(), 'raw\r\nmore\r\n');
  assert.is(fake.requests[1]!.query.get('follow'), '1');
  assert.is(fake.requests[1]!.query.get('tail'), 'all');
});

t('logs asks inspect whether the container has a tty when not told', async ({ fake, client }) => {
  fake.on('GET', '/containers/t1/json', (_req, res) => sendJson(res, 200, { Id: 't1', Config: { Tty: true } }));
  fake.on('GET', '/containers/t1/logs', (_req, res) => {
    res.writeHead(200);
    res.end('raw bytes');
  });
  const out = sink();
  await client.containers.logs('t1', {}, { stdout: out });
  assert.is(out.text(), 'raw bytes');
  assert.equal(fake.log, ['GET /containers/t1/json', 'GET /containers/t1/logs']);
});

function sink(): NodeJS.WritableStream & { text(): string } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  }) as Writable & { text(): string };
  w.text = () => Buffer.concat(chunks).toString();
  return w;
}

t.run();
