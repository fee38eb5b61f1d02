import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Harness, request, startServer } from './support/harness.js';

let h: Harness;
test.before(async () => {
  h = await startServer();
});
test.after(async () => {
  await h.close();
});

function assertApiHeaders(headers: Record<string, unknown>) {
  assert.is(headers['api-version'], '1.41');
  assert.is(headers['docker-experimental'], 'false');
  assert.is(headers.ostype, 'linux');
  assert.is(headers.server, 'berth/0.1.0-test (linux)');
}

test('HEAD /_ping has dockerd headers and no body', async () => {
  const r = await request(h.socket, 'HEAD', '/_ping');
  assert.is(r.status, 200);
  assertApiHeaders(r.headers);
  assert.is(r.headers['content-length'], '0');
  assert.is(r.headers['cache-control'], 'no-cache, no-store, must-revalidate');
  assert.is(r.headers.pragma, 'no-cache');
  assert.is(r.headers['content-type'], 'text/plain; charset=utf-8');
  assert.is(r.body.length, 0);
});

test('GET /_ping, unversioned and versioned, answers OK', async () => {
  for (const path of ['/_ping', '/v1.41/_ping', '/v1.24/_ping']) {
    const r = await request(h.socket, 'GET', path);
    assert.is(r.status, 200, path);
    assert.is(r.text, 'OK');
    assert.is(r.headers['content-length'], '2');
    assertApiHeaders(r.headers);
  }
});

test('/version reports the API versions this layer serves', async () => {
  const r = await request(h.socket, 'GET', '/version');
  assert.is(r.status, 200);
  assert.is(r.headers['content-type'], 'application/json');
  const v = r.json();
  assert.is(v.ApiVersion, '1.41');
  assert.is(v.MinAPIVersion, '1.12');
  assert.is(v.Version, '0.1.0-fake');
  assert.is(v.Components[0].Details.ApiVersion, '1.41');
  const v2 = (await request(h.socket, 'GET', '/v1.12/version')).json();
  assert.is(v2.Version, '0.1.0-fake');
});

test('/info is the engine answer', async () => {
  const r = await request(h.socket, 'GET', '/v1.41/info');
  assert.is(r.status, 200);
  assert.is(r.json().Swarm.LocalNodeState, 'inactive');
  assert.is(r.json().ServerVersion, '0.1.0-fake');
});

test('a version above 1.41 is refused with dockerd JSON 400', async () => {
  const r = await request(h.socket, 'GET', '/v1.44/version');
  assert.is(r.status, 400);
  assert.is(r.headers['content-type'], 'application/json');
  assert.equal(r.json(), { message: 'client version 1.44 is too new. Maximum supported API version is 1.41' });
  assert.ok(r.text.endsWith('\n'));
  assertApiHeaders(r.headers);
  assert.is((await request(h.socket, 'GET', '/v2.0/_ping')).status, 400);
});

test('a version below 1.12 is refused with a text/plain 400', async () => {
  const r = await request(h.socket, 'GET', '/v1.11/version');
  assert.is(r.status, 400);
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  assert.is(
    r.text.trim(),
    'client version 1.11 is too old. Minimum supported API version is 1.12, please upgrade your client to a newer version',
  );
  // 1.9 is older than 1.12 even though "9" > "1" as text.
  assert.is((await request(h.socket, 'GET', '/v1.9/version')).status, 400);
});

test('unknown routes and wrong methods are 404 page not found, with the API headers', async () => {
  for (const [method, path] of [
    ['GET', '/nosuch'],
    ['GET', '/v1.41/containers/abc/nosuch'],
    ['PUT', '/version'],
    ['POST', '/v1.41/session'],
  ] as const) {
    const r = await request(h.socket, method, path);
    assert.is(r.status, 404, `${method} ${path}`);
    assert.equal(r.json(), { message: 'page not found' });
    assertApiHeaders(r.headers);
  }
});

test('GET /berth/plugins lists the engine plugins', async () => {
  for (const path of ['/berth/plugins', '/v1.41/berth/plugins']) {
    const r = await request(h.socket, 'GET', path);
    assert.is(r.status, 200);
    const plugins = r.json();
    assert.is(plugins.length, 2);
    assert.is(plugins[1].status, 'skipped');
    assert.match(plugins[1].reason, /hybrid/);
  }
});

test.run();
