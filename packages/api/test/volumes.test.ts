import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FakeEngine } from './support/fake-engine.js';
import { type Harness, request, startServer } from './support/harness.js';

async function withServer(body: (h: Harness, engine: FakeEngine) => Promise<void>): Promise<void> {
  const engine = new FakeEngine();
  const h = await startServer(engine);
  try {
    await body(h, engine);
  } finally {
    await h.close();
  }
}

const json = { 'content-type': 'application/json' };

test('volume routes: create 201 with the volume, list {Volumes, Warnings}, inspect, remove 204 with force passed on, prune', async () => {
  await withServer(async (h, engine) => {
    const made = await request(h.socket, 'POST', '/v1.41/volumes/create', {
      headers: json,
      body: JSON.stringify({ Name: 'data', Driver: 'local', DriverOpts: {}, Labels: { a: 'b' } }),
    });
    assert.is(made.status, 201);
    assert.is(made.json().Name, 'data');
    const list = await request(h.socket, 'GET', `/volumes?filters=${encodeURIComponent('{"dangling":["true"]}')}`);
    assert.is(list.status, 200);
    assert.equal(Object.keys(list.json()), ['Volumes', 'Warnings']);
    assert.equal(engine.calls.find((c) => c.method === 'volumes.list')?.args, [{ dangling: ['true'] }]);
    assert.is((await request(h.socket, 'GET', '/volumes/data')).status, 200);
    assert.is((await request(h.socket, 'GET', '/volumes/nope')).status, 404);
    assert.is((await request(h.socket, 'DELETE', '/volumes/data?force=1')).status, 204);
    assert.equal(engine.calls.find((c) => c.method === 'volumes.remove')?.args, [{ name: 'data', force: true }]);
    const pruned = await request(h.socket, 'POST', '/volumes/prune');
    assert.equal(pruned.json(), { VolumesDeleted: null, SpaceReclaimed: 0 });
  });
});

test('a mistyped create body is a 400 naming the field, and reaches no engine', async () => {
  await withServer(async (h, engine) => {
    for (const [body, message] of [
      [{ Name: 7 }, 'volume create: Name must be a string'],
      [{ Labels: ['a'] }, 'volume create: Labels must be a JSON object'],
      [{ DriverOpts: { size: 1 } }, 'volume create: DriverOpts.size must be a string'],
      [[], 'volume create: the body must be a JSON object'],
    ] as const) {
      const r = await request(h.socket, 'POST', '/volumes/create', { headers: json, body: JSON.stringify(body) });
      assert.is(r.status, 400, JSON.stringify(body));
      assert.is(r.json().message, message);
    }
    assert.not.ok(engine.calls.some((c) => c.method === 'volumes.create'));
  });
});

test.run();
