import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Harness, request, startServer } from './support/harness.js';

/** `POST /networks/{id}/connect|disconnect`: the body typed before the engine sees it, 200 with no body. */
let h: Harness;
test.before.each(async () => {
  h = await startServer();
  await h.engine.networks.create({ Name: 'net1' });
});
test.after.each(async () => {
  await h.close();
});

const json = { 'Content-Type': 'application/json' };
const post = (path: string, body: unknown) => request(h.socket, 'POST', path, { headers: json, body: JSON.stringify(body) });

test('connect and disconnect reach the engine with the parsed body and answer 200', async () => {
  const connect = await post('/v1.41/networks/net1/connect', {
    Container: 'web',
    EndpointConfig: { Aliases: ['db'], IPAMConfig: { IPv4Address: '10.1.0.9' }, GwPriority: 3, Unknown: 1 },
  });
  assert.is(connect.status, 200, connect.text);
  assert.is(connect.text, '');
  const disconnect = await post('/v1.41/networks/net1/disconnect', { Container: 'web', Force: true });
  assert.is(disconnect.status, 200, disconnect.text);
  assert.equal(
    h.engine.calls.filter((c) => c.method.startsWith('networks.') && c.method !== 'networks.create').map((c) => c.args[0]),
    [
      { ref: 'net1', Container: 'web', EndpointConfig: { Aliases: ['db'], IPAMConfig: { IPv4Address: '10.1.0.9' }, GwPriority: 3 } },
      { ref: 'net1', Container: 'web', Force: true },
    ],
  );
});

test('a mistyped body is a 400 naming the field; the engine is not called', async () => {
  const cases: Array<[string, unknown, string]> = [
    ['/v1.41/networks/net1/connect', { Container: 5 }, 'invalid Container: expected a string, got 5'],
    ['/v1.41/networks/net1/connect', { Container: 'web', EndpointConfig: { Aliases: 'db' } }, 'invalid EndpointConfig.Aliases'],
    ['/v1.41/networks/net1/disconnect', { Container: 'web', Force: 'yes' }, 'invalid Force: expected a boolean, got "yes"'],
  ];
  for (const [path, body, message] of cases) {
    const r = await post(path, body);
    assert.is(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.ok(r.json().message.startsWith(message), r.text);
  }
  assert.equal(
    h.engine.calls.filter((c) => c.method === 'networks.connect' || c.method === 'networks.disconnect'),
    [],
  );
});

test.run();
