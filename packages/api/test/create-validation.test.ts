import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Harness, request, startServer } from './support/harness.js';

/**
 * A mistyped create body is the client's mistake: 400 naming the field, and the engine is
 * never called, so nothing of it can be stored. The hostile shapes of issue 16 each have a case.
 */
let h: Harness;
test.before.each(async () => {
  h = await startServer();
});
test.after.each(async () => {
  await h.close();
});

const json = { 'Content-Type': 'application/json' };

async function create(body: unknown) {
  return request(h.socket, 'POST', '/v1.41/containers/create', { headers: json, body: JSON.stringify(body) });
}

const engineCreates = () => h.engine.calls.filter((c) => c.method === 'containers.create').length;

const hostile: Array<[string, unknown, string]> = [
  ['Labels [1]', { Image: 'busybox', Labels: [1] }, 'invalid Labels: expected a map of strings, got [1]'],
  ['Cmd [1,{}]', { Image: 'busybox', Cmd: [1, {}] }, 'invalid Cmd: expected a string or an array of strings, got [1,{}]'],
  ['Env {"a":1}', { Image: 'busybox', Env: { a: 1 } }, 'invalid Env: expected an array of strings, got {"a":1}'],
  ['HostConfig.Binds 5', { Image: 'busybox', HostConfig: { Binds: 5 } }, 'invalid HostConfig.Binds: expected an array of strings, got 5'],
  ['Image 5', { Image: 5 }, 'invalid Image: expected a string, got 5'],
  ['HostConfig "x"', { Image: 'busybox', HostConfig: 'x' }, 'invalid HostConfig: expected an object, got "x"'],
  [
    'RestartPolicy.Name 1',
    { Image: 'busybox', HostConfig: { RestartPolicy: { Name: 1 } } },
    'invalid HostConfig.RestartPolicy.Name: expected a string, got 1',
  ],
  [
    'a body that is an array',
    [{ Image: 'busybox' }],
    'invalid body: expected a container config (a JSON object), got [{"Image":"busybox"}]',
  ],
];

for (const [what, body, message] of hostile) {
  test(`create with ${what} is a 400 naming the field; the engine is never called`, async () => {
    const r = await create(body);
    assert.is(r.status, 400, r.text);
    assert.is(r.json().message, message);
    assert.is(engineCreates(), 0);
  });
}

test('a rejected create leaves the listing readable by everyone', async () => {
  assert.is((await create({ Image: 'busybox', Labels: [1] })).status, 400);
  assert.is((await create({ Image: 'busybox', Labels: { a: 'b' } })).status, 201);
  const list = await request(h.socket, 'GET', '/v1.41/containers/json?all=1');
  assert.is(list.status, 200);
  const containers = list.json() as Array<{ Labels: Record<string, string> }>;
  assert.is(containers.length, 1);
  assert.equal(containers[0]!.Labels, { a: 'b' });
});

test('the engine gets the body as Docker keeps it: unknown fields dropped, nulls absent', async () => {
  const r = await create({ Image: 'busybox', Cmd: null, Whatever: { x: 1 }, HostConfig: { Memory: null, Binds: ['/a:/b'], Extra: 1 } });
  assert.is(r.status, 201, r.text);
  const call = h.engine.calls.find((c) => c.method === 'containers.create')!;
  assert.equal(call.args[0], { Image: 'busybox', HostConfig: { Binds: ['/a:/b'] } });
});

test.run();
