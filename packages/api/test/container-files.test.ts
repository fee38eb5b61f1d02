import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createContainer, type Harness, request, startServer } from './support/harness.js';

let h: Harness;
let id: string;
test.before.each(async () => {
  h = await startServer();
  id = await createContainer(h.socket, { Image: 'busybox' }, 'files');
});
test.after.each(async () => {
  await h.close();
});

function decodeStat(header: string | string[] | undefined): Record<string, unknown> {
  assert.type(header, 'string', 'no X-Docker-Container-Path-Stat header');
  return JSON.parse(Buffer.from(header as string, 'base64').toString());
}

test('GET /containers/{id}/changes answers [{Path, Kind}]; an unknown container is 404', async () => {
  const r = await request(h.socket, 'GET', '/v1.41/containers/files/changes');
  assert.is(r.status, 200);
  assert.equal(r.json(), [
    { Path: '/tmp', Kind: 0 },
    { Path: '/tmp/x', Kind: 1 },
  ]);
  assert.is((await request(h.socket, 'GET', '/containers/nope/changes')).status, 404);
});

test('GET /containers/{id}/export streams the tar as application/x-tar', async () => {
  const r = await request(h.socket, 'GET', `/v1.41/containers/${id}/export`);
  assert.is(r.status, 200);
  assert.is(r.headers['content-type'], 'application/x-tar');
  assert.is(r.text, 'fake-tar');
});

test('POST /commit passes every query field and answers 201 {Id}; without container it is 400', async () => {
  const q = 'container=files&repo=trc%2Fsnap&tag=v1&comment=msg&author=me&changes=ENV%20A%3D1&changes=CMD%20%5B%22sh%22%5D&pause=0';
  const r = await request(h.socket, 'POST', `/v1.41/commit?${q}`, { headers: { 'Content-Type': 'application/json' }, body: '{}' });
  assert.is(r.status, 201);
  assert.match(r.json().Id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(h.engine.calls.at(-1)!.args, [
    'files',
    { repo: 'trc/snap', tag: 'v1', comment: 'msg', author: 'me', changes: ['ENV A=1', 'CMD ["sh"]'], pause: false },
  ]);
  await request(h.socket, 'POST', '/commit?container=files');
  assert.is((h.engine.calls.at(-1)!.args[1] as { pause: boolean }).pause, true, 'pause defaults to true');
  assert.is((await request(h.socket, 'POST', '/commit?repo=x')).status, 400);
});

test('HEAD and GET /containers/{id}/archive carry the base64 JSON stat header; a missing path is 404', async () => {
  const head = await request(h.socket, 'HEAD', '/v1.41/containers/files/archive?path=%2Fetc%2Fhostname');
  assert.is(head.status, 200);
  assert.equal(decodeStat(head.headers['x-docker-container-path-stat']), {
    name: 'hostname',
    size: 13,
    mode: 0o644,
    mtime: '2026-01-02T03:04:05Z',
    linkTarget: '',
  });
  const get = await request(h.socket, 'GET', '/v1.41/containers/files/archive?path=/etc');
  assert.is(get.status, 200);
  assert.is(get.headers['content-type'], 'application/x-tar');
  assert.is(decodeStat(get.headers['x-docker-container-path-stat']).name, 'etc');
  assert.is(get.text, 'fake-tar');
  assert.is((await request(h.socket, 'HEAD', '/containers/files/archive?path=/nope')).status, 404);
  const missing = await request(h.socket, 'GET', '/containers/files/archive?path=/nope');
  assert.is(missing.status, 404);
  assert.match(missing.json().message, 'Could not find the file /nope in container files');
  assert.is((await request(h.socket, 'GET', '/containers/files/archive')).status, 400);
});

test('PUT /containers/{id}/archive hands the body to the engine; a file as extraction point is 400', async () => {
  const r = await request(h.socket, 'PUT', '/v1.41/containers/files/archive?path=%2Fetc&copyUIDGID=1&noOverwriteDirNonDir=true', {
    body: 'tar-bytes',
  });
  assert.is(r.status, 200);
  assert.is(h.engine.lastUpload?.toString(), 'tar-bytes');
  assert.equal(h.engine.calls.at(-1)!.args, ['files', '/etc', { copyUIDGID: true, noOverwriteDirNonDir: true }]);
  await request(h.socket, 'PUT', '/containers/files/archive?path=%2Fetc', { body: 'tar-bytes' });
  assert.equal(h.engine.calls.at(-1)!.args, ['files', '/etc', { copyUIDGID: false, noOverwriteDirNonDir: false }]);
  const bad = await request(h.socket, 'PUT', '/containers/files/archive?path=/etc/hostname', { body: 'x' });
  assert.is(bad.status, 400);
});

test('PUT /containers/{id}/archive whose tar the engine refuses midway answers 400 and the server stays up', async () => {
  const r = await request(h.socket, 'PUT', '/containers/files/archive?path=/refuse', { body: Buffer.alloc(4 << 20, 'x') });
  assert.is(r.status, 400);
  assert.is(r.json().message, 'refused after the first chunk');
  assert.is((await request(h.socket, 'GET', '/_ping')).status, 200);
});

test.run();
