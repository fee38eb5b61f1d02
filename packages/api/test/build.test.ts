import { InvalidArgument } from '@berth/core';
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

const lines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));

test('POST /build passes the query and the body on, and answers the classic builder JSON lines', async () => {
  await withServer(async (h, engine) => {
    const query = new URLSearchParams({
      buildargs: JSON.stringify({ FOO: 'bar', UNSET: null }),
      labels: JSON.stringify({ team: 'core' }),
      dockerfile: 'build/Dockerfile',
      target: 'final',
      nocache: '1',
      pull: 'true',
      networkmode: 'none',
      version: '1',
    });
    query.append('t', 'app:1');
    query.append('t', 'app:latest');
    const reply = await request(h.socket, 'POST', `/v1.41/build?${query}`, {
      headers: { 'content-type': 'application/x-tar' },
      body: Buffer.from('the context bytes'),
    });
    assert.is(reply.status, 200);
    assert.is(reply.headers['content-type'], 'application/json');
    const call = engine.calls.find((c) => c.method === 'builds.build')!.args[0] as Record<string, unknown>;
    assert.equal(call, {
      dockerfile: 'build/Dockerfile',
      tags: ['app:1', 'app:latest'],
      buildArgs: { FOO: 'bar', UNSET: undefined },
      labels: { team: 'core' },
      target: 'final',
      noCache: true,
      pull: true,
      network: 'none',
    });
    assert.is(engine.lastBuildBody?.toString(), 'the context bytes');
    const answer = lines(reply.text);
    assert.equal(answer[0], { stream: 'Step 1/1 : FROM busybox\n' });
    assert.ok(answer.some((l) => l.aux?.ID?.startsWith('sha256:')));
    assert.match(reply.text, /Successfully built [0-9a-f]{12}\\n/);
    assert.equal(answer.at(-1), { stream: 'Successfully tagged app:latest\n' });
  });
});

test('q=1 answers only the image id', async () => {
  await withServer(async (h) => {
    const reply = await request(h.socket, 'POST', '/build?q=1', { body: 'x' });
    const answer = lines(reply.text);
    assert.is(answer.length, 1);
    assert.match(answer[0].stream, /^sha256:[0-9a-f]{64}\n$/);
  });
});

test('a failure after output is in the stream with the exit code of the failed RUN; one before any output is a normal error', async () => {
  await withServer(async (h, engine) => {
    engine.buildOutcome = {
      fail: Object.assign(new Error("The command '/bin/sh -c exit 3' returned a non-zero code: 3"), { exitCode: 3 }),
      streamed: 2,
    };
    const failed = await request(h.socket, 'POST', '/build', { body: 'x' });
    assert.is(failed.status, 200);
    assert.equal(lines(failed.text).at(-1), {
      errorDetail: { code: 3, message: "The command '/bin/sh -c exit 3' returned a non-zero code: 3" },
      error: "The command '/bin/sh -c exit 3' returned a non-zero code: 3",
    });
    engine.buildOutcome = { fail: new InvalidArgument('Dockerfile:2: unknown instruction: COPPY (did you mean COPY?)'), streamed: 0 };
    const refused = await request(h.socket, 'POST', '/build', { body: 'x' });
    assert.is(refused.status, 400);
    assert.is(refused.json().message, 'Dockerfile:2: unknown instruction: COPPY (did you mean COPY?)');
  });
});

test('bad buildargs JSON is a 400 naming the parameter; a BuildKit session build says how to build instead', async () => {
  await withServer(async (h, engine) => {
    const bad = await request(h.socket, 'POST', `/build?buildargs=${encodeURIComponent('{nope')}`, { body: 'x' });
    assert.is(bad.status, 400);
    assert.match(bad.json().message, 'invalid buildargs');
    const v2 = await request(h.socket, 'POST', '/build?version=2', { body: 'x' });
    assert.is(v2.status, 501);
    assert.match(v2.json().message, 'DOCKER_BUILDKIT=0');
    assert.not.ok(engine.calls.some((c) => c.method === 'builds.build'));
  });
});

test('berth build --secret travels in X-Berth-Build-Secrets; a malformed one is a 400', async () => {
  await withServer(async (h, engine) => {
    const header = Buffer.from(JSON.stringify({ token: Buffer.from('s3cret').toString('base64') })).toString('base64');
    const reply = await request(h.socket, 'POST', '/build', { body: 'x', headers: { 'X-Berth-Build-Secrets': header } });
    assert.is(reply.status, 200);
    const call = engine.calls.find((c) => c.method === 'builds.build')!.args[0] as { secrets?: Record<string, Buffer> };
    assert.is(call.secrets?.token?.toString(), 's3cret');
    const bad = await request(h.socket, 'POST', '/build', { body: 'x', headers: { 'X-Berth-Build-Secrets': 'not json' } });
    assert.is(bad.status, 400);
    assert.match(bad.json().message, 'X-Berth-Build-Secrets');
  });
});

test('/_ping names the classic builder', async () => {
  await withServer(async (h) => {
    const ping = await request(h.socket, 'HEAD', '/_ping');
    assert.is(ping.headers['builder-version'], '1');
  });
});

test.run();
