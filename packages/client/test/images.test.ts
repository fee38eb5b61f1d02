import { Readable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiError, BerthClient } from '../src/index.js';
import { FakeDaemon, sendError, sendJson } from '../src/testing/fake-daemon.js';

interface Ctx {
  fake: FakeDaemon;
  client: BerthClient;
}

const t = suite<Ctx>('images');

t.before.each(async (ctx) => {
  ctx.fake = await FakeDaemon.start('berth-unit-client');
  ctx.client = new BerthClient({ host: ctx.fake.host });
});

t.after.each(async (ctx) => {
  ctx.client.close();
  await ctx.fake.close();
});

function jsonLines(res: import('node:http').ServerResponse, lines: unknown[]): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  for (const l of lines) res.write(`${JSON.stringify(l)}\n`);
  res.end();
}

t('import streams the tar chunked and returns the id from the last status', async ({ fake, client }) => {
  fake.on('POST', '/images/create', (_req, res) => jsonLines(res, [{ status: `sha256:${'b'.repeat(64)}` }]));
  const tar = Readable.from([Buffer.alloc(512, 1), Buffer.alloc(512, 2)]);
  const progress: string[] = [];
  const id = await client.images.import(tar, {
    repo: 'trc/imported:1',
    message: 'msg',
    changes: ['ENV A=1', 'CMD ["sh"]'],
    onProgress: (m) => progress.push(m.status ?? ''),
  });
  assert.is(id, `sha256:${'b'.repeat(64)}`);
  assert.equal(progress, [id]);
  const req = fake.find('POST', '/images/create')[0]!;
  assert.is(req.body.length, 1024);
  assert.is(req.headers['transfer-encoding'], 'chunked');
  assert.is(req.query.get('fromSrc'), '-');
  assert.is(req.query.get('repo'), 'trc/imported:1');
  assert.equal(req.query.getAll('changes'), ['ENV A=1', 'CMD ["sh"]']);
  assert.is(req.query.get('message'), 'msg');
});

t('an in-band error after the 200 rejects with its message', async ({ fake, client }) => {
  fake.on('POST', '/images/load', (_req, res) =>
    jsonLines(res, [{ stream: 'Loading layer\n' }, { errorDetail: { message: 'unexpected EOF' }, error: 'unexpected EOF' }]),
  );
  const err = await client.images.load(Readable.from([Buffer.from('junk')])).catch((e: unknown) => e);
  assert.instance(err, ApiError);
  assert.is((err as ApiError).message, 'unexpected EOF');
  assert.is((err as ApiError).status, 500);
});

t('load returns the messages; quiet is passed', async ({ fake, client }) => {
  fake.on('POST', '/images/load', (_req, res) => jsonLines(res, [{ stream: 'Loaded image: trc/built:1\n' }]));
  const messages = await client.images.load(Readable.from([Buffer.alloc(10)]), { quiet: true });
  assert.equal(messages, [{ stream: 'Loaded image: trc/built:1\n' }]);
  assert.is(fake.requests[0]!.query.get('quiet'), '1');
  assert.is(fake.requests[0]!.headers['content-type'], 'application/x-tar');
});

t('save returns the tar stream; names repeat', async ({ fake, client }) => {
  fake.on('GET', '/images/get', (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    res.write(Buffer.alloc(1000, 7));
    res.end(Buffer.alloc(24, 7));
  });
  const stream = await client.images.save(['a:1', 'b']);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  assert.is(Buffer.concat(chunks).length, 1024);
  assert.equal(fake.requests[0]!.query.getAll('names'), ['a:1', 'b']);
});

t('image paths keep registry, slashes and tag; tag defaults to latest', async ({ fake, client }) => {
  fake.on('GET', /^\/images\/.+\/json$/, (req, res) => sendJson(res, 200, { Id: 'sha256:x', seen: req.rawPath }));
  fake.on('POST', /^\/images\/.+\/tag$/, (_req, res) => {
    res.writeHead(201);
    res.end();
  });
  fake.on('DELETE', /^\/images\//, (_req, res) => sendJson(res, 200, [{ Untagged: 'trc/busybox:v1' }, { Deleted: 'sha256:x' }]));
  const inspected = (await client.images.inspect('127.0.0.1:5010/trc/busybox:v1')) as unknown as { seen: string };
  assert.is(inspected.seen, '/v1.41/images/127.0.0.1:5010/trc/busybox:v1/json');
  await client.images.tag('busybox', 'trc/busybox');
  assert.is(fake.requests[1]!.query.toString(), 'repo=trc%2Fbusybox&tag=latest');
  assert.equal(await client.images.remove('trc/busybox:v1', { force: true }), [{ Untagged: 'trc/busybox:v1' }, { Deleted: 'sha256:x' }]);
  assert.is(fake.requests[2]!.query.get('force'), '1');
});

t('a 404 image inspect is an ApiError', async ({ fake, client }) => {
  fake.on('GET', /^\/images\//, (_req, res) => sendError(res, 404, 'no such image: x: No such image: x:latest'));
  const err = await client.images.inspect('x').catch((e: unknown) => e);
  assert.is((err as ApiError).status, 404);
});

t('list passes all and filters', async ({ fake, client }) => {
  fake.on('GET', '/images/json', (_req, res) => sendJson(res, 200, []));
  await client.images.list({ all: true, filters: { reference: ['busybox'] } });
  assert.is(fake.requests[0]!.query.get('all'), '1');
  assert.equal(JSON.parse(fake.requests[0]!.query.get('filters')!), { reference: { busybox: true } });
});

t('a failing upload source rejects with its own error', async ({ fake, client }) => {
  fake.on('POST', '/images/load', (_req, res) => sendJson(res, 200, {}));
  const broken = new Readable({
    read() {
      this.destroy(new Error('disk on fire'));
    },
  });
  const err = await client.images.load(broken).catch((e: unknown) => e);
  assert.is((err as Error).message, 'disk on fire');
});

t.run();
