import { NotFound } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createApiServer, defaultRoutes, imageRoutes, type RouteModule, sendJson, systemRoutes, upgradeResponse } from '../src/index.js';
import { FakeEngine } from './support/fake-engine.js';
import { collectUntilClose, type Harness, rawConnect, request, startServer } from './support/harness.js';

/** An embedder's own module: a fixed route, a pattern with two named captures, a hijacked route. */
const extraRoutes: RouteModule = {
  name: 'extra',
  register(routes) {
    routes.add('GET', '/extra/hello', (ctx) => sendJson(ctx.res, 200, { hello: 'world' }));
    routes.add('GET', '/extra/{group}/items/{path*}', (ctx) => sendJson(ctx.res, 200, { group: ctx.params.group, path: ctx.params.path }));
    routes.hijack('POST', '/extra/{id}/pipe', async (ctx) => {
      ctx.socket.write(upgradeResponse);
      ctx.socket.end(`piped ${ctx.params.id}`);
    });
  },
};

async function withServer(
  options: Parameters<typeof startServer>[1],
  body: (h: Harness) => Promise<void>,
  engine = new FakeEngine(),
): Promise<void> {
  const h = await startServer(engine, options);
  try {
    await body(h);
  } finally {
    await h.close();
  }
}

test('an added module is served beside the defaults, with named captures, under every version prefix', async () => {
  await withServer({ routes: [...defaultRoutes, extraRoutes] }, async (h) => {
    for (const prefix of ['', '/v1.41', '/v1.24']) {
      const r = await request(h.socket, 'GET', `${prefix}/extra/hello`);
      assert.is(r.status, 200, prefix);
      assert.equal(r.json(), { hello: 'world' });
      assert.is(r.headers['api-version'], '1.41', 'the server headers are on module routes too');
    }
    const r = await request(h.socket, 'GET', '/v1.41/extra/blue/items/a/b%20c/d');
    assert.equal(r.json(), { group: 'blue', path: 'a/b c/d' });
    assert.is((await request(h.socket, 'GET', '/_ping')).text, 'OK', 'the defaults are still served');
  });
});

test("an added module's hijack route takes over the connection", async () => {
  await withServer({ routes: [...defaultRoutes, extraRoutes] }, async (h) => {
    const s = await rawConnect(h.socket);
    s.write('POST /v1.41/extra/c0ffee/pipe HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    const out = (await collectUntilClose(s)).toString();
    assert.is(out, `${upgradeResponse}piped c0ffee`);
  });
});

test('a replaced module serves its routes instead of the default one; the others are untouched', async () => {
  const engine = new FakeEngine();
  const myImages: RouteModule = {
    name: 'images',
    register(routes) {
      routes.add('GET', '/images/json', (ctx) => sendJson(ctx.res, 200, [{ Id: 'mine' }]));
      routes.add('GET', '/images/{name*}/json', (ctx) => {
        throw new NotFound(`my module knows no image ${ctx.params.name}`);
      });
    },
  };
  await withServer(
    { routes: defaultRoutes.map((m) => (m === imageRoutes ? myImages : m)) },
    async (h) => {
      assert.equal((await request(h.socket, 'GET', '/images/json')).json(), [{ Id: 'mine' }]);
      const missing = await request(h.socket, 'GET', '/images/127.0.0.1:5010/trc/busybox:v1/json');
      assert.is(missing.status, 404);
      assert.equal(missing.json(), { message: 'my module knows no image 127.0.0.1:5010/trc/busybox:v1' });
      // A route only the default images module had is gone.
      const gone = await request(h.socket, 'POST', '/images/busybox/tag?repo=x');
      assert.is(gone.status, 404);
      assert.equal(gone.json(), { message: 'page not found' });
      assert.is((await request(h.socket, 'GET', '/version')).status, 200);
    },
    engine,
  );
  assert.not.ok(
    engine.calls.some((c) => c.method.startsWith('images.')),
    'the default images module never reached the engine',
  );
});

test('with only some modules, the rest of the API is 404', async () => {
  await withServer({ routes: [systemRoutes] }, async (h) => {
    assert.is((await request(h.socket, 'GET', '/_ping')).status, 200);
    const r = await request(h.socket, 'GET', '/containers/json');
    assert.is(r.status, 404);
    assert.equal(r.json(), { message: 'page not found' });
  });
});

test('a fixed path wins over a pattern whatever the order; of two patterns the first registered wins', async () => {
  const early: RouteModule = {
    name: 'early',
    register(routes) {
      routes.add('GET', '/things/{id}/json', (ctx) => sendJson(ctx.res, 200, { by: 'early pattern', id: ctx.params.id }));
      routes.add('GET', '/things/{name*}', (ctx) => sendJson(ctx.res, 200, { by: 'early catch-all', name: ctx.params.name }));
    },
  };
  const late: RouteModule = {
    name: 'late',
    register(routes) {
      routes.add('GET', '/things/json/json', (ctx) => sendJson(ctx.res, 200, { by: 'late fixed' }));
    },
  };
  await withServer({ routes: [early, late] }, async (h) => {
    assert.equal((await request(h.socket, 'GET', '/things/json/json')).json(), { by: 'late fixed' });
    assert.equal((await request(h.socket, 'GET', '/things/a/json')).json(), { by: 'early pattern', id: 'a' });
    assert.equal((await request(h.socket, 'GET', '/things/a/b')).json(), { by: 'early catch-all', name: 'a/b' });
  });
});

test('a route two modules register, or two modules of one name, fail construction naming them', () => {
  const clash: RouteModule = { name: 'clash', register: (routes) => routes.add('GET', '/info', () => undefined) };
  assert.throws(
    () => createApiServer(new FakeEngine(), { serverVersion: 't', routes: [...defaultRoutes, clash] }),
    /route GET \/info is registered by both route modules system and clash/,
  );
  const twin: RouteModule = { name: 'system', register: () => undefined };
  assert.throws(
    () => createApiServer(new FakeEngine(), { serverVersion: 't', routes: [systemRoutes, twin] }),
    /two route modules are named system/,
  );
});

test('a malformed percent-encoding in a capture is a 400 naming it', async () => {
  await withServer({}, async (h) => {
    const r = await request(h.socket, 'GET', '/containers/a%zz/json');
    assert.is(r.status, 400);
    assert.equal(r.json(), { message: 'malformed percent-encoding in path: a%zz' });
  });
});

test.run();
