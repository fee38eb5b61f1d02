import * as http from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Harness, request, startServer } from './support/harness.js';

let h: Harness;
test.before.each(async () => {
  h = await startServer();
});
test.after.each(async () => {
  await h.close();
});

test('GET /images/json with a reference filter', async () => {
  h.engine.addImage('127.0.0.1:5010/trc/busybox:v1');
  let r = await request(h.socket, 'GET', '/v1.41/images/json');
  assert.is(r.status, 200);
  assert.is(r.json().length, 2);
  const f = encodeURIComponent(JSON.stringify({ reference: { busybox: true } }));
  r = await request(h.socket, 'GET', `/v1.41/images/json?filters=${f}`);
  assert.equal(
    r.json().map((i: { RepoTags: string[] }) => i.RepoTags),
    [['busybox:latest']],
  );
  r = await request(h.socket, 'GET', '/images/json?only_ids=0&all=0&filter=busybox');
  assert.equal(h.engine.calls.at(-1)!.args[0], { all: false, filters: { reference: ['busybox'] } });
});

test('image names with registries, ports, slashes and tags route to inspect/history', async () => {
  const img = h.engine.addImage('127.0.0.1:5010/trc/busybox:v1');
  let r = await request(h.socket, 'GET', '/v1.41/images/127.0.0.1:5010/trc/busybox:v1/json');
  assert.is(r.status, 200);
  assert.is(r.json().Id, img.id);
  assert.is(h.engine.calls.at(-1)!.args[0], '127.0.0.1:5010/trc/busybox:v1');
  r = await request(h.socket, 'GET', `/images/${encodeURIComponent('127.0.0.1:5010/trc/busybox:v1')}/history`);
  assert.is(r.status, 200);
  assert.is(h.engine.calls.at(-1)!.args[0], '127.0.0.1:5010/trc/busybox:v1');
  r = await request(h.socket, 'GET', `/images/${img.id}/json`);
  assert.is(r.json().Id, img.id);
  r = await request(h.socket, 'GET', '/images/nosuch/json');
  assert.is(r.status, 404);
  assert.is(r.json().message, 'no such image: nosuch: No such image: nosuch:latest');
});

test('tag answers 201 with no body and passes repo as sent', async () => {
  const r = await request(h.socket, 'POST', '/v1.41/images/busybox:latest/tag?repo=docker.io%2Ftrc%2Fbusybox&tag=v1');
  assert.is(r.status, 201);
  assert.is(r.body.length, 0);
  assert.equal(h.engine.calls.at(-1)!.args, ['busybox:latest', 'docker.io/trc/busybox', 'v1']);
  const missing = await request(h.socket, 'POST', '/images/busybox/tag');
  assert.is(missing.status, 400);
});

test('DELETE /images/{name} answers the engine array', async () => {
  await request(h.socket, 'POST', '/images/busybox/tag?repo=trc%2Fbusybox&tag=v1');
  let r = await request(h.socket, 'DELETE', '/v1.41/images/trc/busybox:v1');
  assert.is(r.status, 200);
  assert.equal(r.json(), [{ Untagged: 'trc/busybox:v1' }]);
  r = await request(h.socket, 'DELETE', '/images/busybox?force=True&noprune=False');
  assert.equal(h.engine.calls.at(-1)!.args[1], { force: true, noprune: false });
  assert.equal(r.json()[0], { Untagged: 'busybox:latest' });
  assert.ok('Deleted' in r.json()[1]);
});

test('import: body tar to the engine, {"status":"sha256:..."} back', async () => {
  const tar = Buffer.alloc(300_000, 7);
  const r = await request(
    h.socket,
    'POST',
    '/v1.41/images/create?fromSrc=-&repo=trc%2Fimported%3A1&message=hi&changes=ENV+C%3D1&changes=CMD+sh',
    {
      headers: { 'Content-Type': 'text/plain' },
      body: tar,
    },
  );
  assert.is(r.status, 200);
  assert.is(r.headers['content-type'], 'application/json');
  const line = r.json();
  assert.match(line.status, /^sha256:[0-9a-f]{64}$/);
  assert.ok(h.engine.lastUpload!.equals(tar));
  const call = h.engine.calls.find((c) => c.method === 'images.import')!;
  assert.equal(call.args[0], { repo: 'trc/imported:1', tag: undefined, message: 'hi', changes: ['ENV C=1', 'CMD sh'], source: '-' });
});

test('an import refused early in a large upload is answered, and the connection goes on', async () => {
  h.engine.importRefusesAfter = 64 * 1024;
  try {
    const started = Date.now();
    const r = await request(h.socket, 'POST', '/v1.41/images/create?fromSrc=-', {
      headers: { 'Content-Type': 'application/x-tar' },
      body: Buffer.alloc(16 << 20, 1),
    });
    assert.is(r.status, 400);
    assert.is(r.json().message, 'invalid tar: header checksum mismatch at byte 0');
    assert.ok(Date.now() - started < 4000, 'answered at once, not after a stall');
  } finally {
    h.engine.importRefusesAfter = undefined;
  }
});

test('pull: the reference, tag or digest, -a, platform and X-Registry-Auth reach the engine', async () => {
  const auth = Buffer.from(JSON.stringify({ username: 'trc', password: 'pw', serveraddress: '127.0.0.1:5010' })).toString('base64url');
  let r = await request(h.socket, 'POST', '/v1.41/images/create?fromImage=127.0.0.1%3A5010%2Ftrc%2Fbusybox&tag=v1&platform=linux%2Farm64', {
    headers: { 'X-Registry-Auth': auth },
  });
  assert.is(r.status, 200);
  let call = h.engine.calls.filter((c) => c.method === 'images.pull').at(-1)!;
  assert.equal(call.args, [
    '127.0.0.1:5010/trc/busybox:v1',
    { platform: 'linux/arm64', allTags: false, auth: { username: 'trc', password: 'pw', serveraddress: '127.0.0.1:5010' } },
  ]);
  const lines = r.text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.at(-1), { status: 'Status: Downloaded newer image for 127.0.0.1:5010/trc/busybox:v1' });
  r = await request(h.socket, 'POST', '/images/create?fromImage=busybox&tag=sha256%3Aabc', { headers: { 'X-Registry-Auth': 'e30=' } });
  call = h.engine.calls.filter((c) => c.method === 'images.pull').at(-1)!;
  assert.equal(call.args, ['busybox@sha256:abc', { platform: undefined, allTags: false, auth: undefined }]);
  await request(h.socket, 'POST', '/images/create?fromImage=busybox');
  call = h.engine.calls.filter((c) => c.method === 'images.pull').at(-1)!;
  assert.is((call.args[1] as { allTags: boolean }).allTags, true);
  r = await request(h.socket, 'POST', '/images/create');
  assert.is(r.status, 400);
  r = await request(h.socket, 'POST', '/images/create?fromImage=busybox&tag=1', { headers: { 'X-Registry-Auth': 'not json' } });
  assert.is(r.status, 400);
  assert.match(r.json().message, /X-Registry-Auth/);
});

test('pull: an error before any progress is a plain error response, after it an errorDetail line', async () => {
  let r = await request(h.socket, 'POST', '/images/create?fromImage=unknown&tag=nope');
  assert.is(r.status, 404);
  assert.is(r.json().message, 'manifest for unknown:nope not found: manifest unknown: manifest unknown');
  r = await request(h.socket, 'POST', '/images/create?fromImage=broken&tag=1');
  assert.is(r.status, 200);
  const lines = r.text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.at(-1), { errorDetail: { message: 'connection reset by the registry' }, error: 'connection reset by the registry' });
});

test('load answers Loaded image lines', async () => {
  h.engine.loadNames = ['busybox:latest', 'sha256:0123'];
  const r = await request(h.socket, 'POST', '/images/load?quiet=1', {
    headers: { 'Content-Type': 'application/x-tar' },
    body: Buffer.alloc(2048, 1),
  });
  assert.is(r.status, 200);
  const lines = r.text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines, [{ stream: 'Loaded image: busybox:latest\n' }, { stream: 'Loaded image ID: sha256:0123\n' }]);
  assert.is(h.engine.lastUpload!.length, 2048);
  // A failed load is a 200 with the error in the stream, as dockerd answers.
  const empty = await request(h.socket, 'POST', '/images/load');
  assert.is(empty.status, 200);
  assert.equal(JSON.parse(empty.text), { errorDetail: { message: 'empty archive' }, error: 'empty archive' });
});

test('save streams the archive as application/x-tar, both routes', async () => {
  const img = h.engine.findImage('busybox');
  for (const path of ['/images/get?names=busybox%3Alatest', '/v1.41/images/busybox/get']) {
    const r = await request(h.socket, 'GET', path);
    assert.is(r.status, 200);
    assert.is(r.headers['content-type'], 'application/x-tar');
    assert.is(r.headers['transfer-encoding'], 'chunked');
    assert.ok(r.text.startsWith(`TAR:${img.id}:`));
    assert.is(r.body.length, `TAR:${img.id}:`.length + 100_000);
  }
  const r = await request(h.socket, 'GET', '/images/get?names=a&names=nosuch');
  assert.is(r.status, 404);
  assert.equal(h.engine.calls.at(-1)!.args[0], ['a', 'nosuch']);
  assert.is((await request(h.socket, 'GET', '/images/get')).status, 400);
});

test('push streams progress, errors in the stream; search says it is not supported', async () => {
  let r = await request(h.socket, 'POST', '/images/127.0.0.1:5010/trc/busybox/push?tag=v1');
  assert.is(r.status, 200);
  assert.equal(h.engine.calls.filter((c) => c.method === 'images.push').at(-1)!.args[0], '127.0.0.1:5010/trc/busybox:v1');
  assert.match(r.text, /latest: digest: sha256:00 size: 1/);
  r = await request(h.socket, 'POST', '/images/denied/x/push?tag=v1');
  const last = JSON.parse(r.text.trim().split('\n').at(-1)!);
  assert.equal(last.errorDetail, { message: 'denied: requested access to the resource is denied' });
  r = await request(h.socket, 'GET', '/images/search?term=x');
  assert.is(r.status, 501);
});

test('POST /auth answers Login Succeeded, or 401 with the registry refusal', async () => {
  let r = await request(h.socket, 'POST', '/auth', {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'trc', password: 'right', serveraddress: '127.0.0.1:5010' }),
  });
  assert.is(r.status, 200);
  assert.equal(r.json(), { IdentityToken: '', Status: 'Login Succeeded' });
  r = await request(h.socket, 'POST', '/auth', {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'trc', password: 'wrong', serveraddress: '127.0.0.1:5010' }),
  });
  assert.is(r.status, 401);
  assert.match(r.json().message, /failed with status: 401 Unauthorized/);
});

test('keep-alive: many requests on one connection', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < 20; i++) {
      const r = await request(h.socket, 'GET', '/v1.41/images/json', { agent });
      assert.is(r.status, 200);
    }
  } finally {
    agent.destroy();
  }
});

test.run();
