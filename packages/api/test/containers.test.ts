import * as http from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createContainer, type Harness, parseFrames, request, sleep, startServer, until } from './support/harness.js';

let h: Harness;
test.before.each(async () => {
  h = await startServer();
});
test.after.each(async () => {
  await h.close();
});

const json = { 'Content-Type': 'application/json' };

test('create answers 201 with Id and Warnings and passes ?name', async () => {
  const r = await request(h.socket, 'POST', '/v1.41/containers/create?name=bapi-web', {
    headers: json,
    body: JSON.stringify({ Image: 'busybox', Cmd: ['echo', 'hi'] }),
  });
  assert.is(r.status, 201);
  const body = r.json();
  assert.match(body.Id, /^[0-9a-f]{64}$/);
  assert.equal(body.Warnings, []);
  const call = h.engine.calls.find((c) => c.method === 'containers.create')!;
  assert.is(call.args[1], 'bapi-web');
  assert.equal((call.args[0] as { Cmd: string[] }).Cmd, ['echo', 'hi']);
});

test('create accepts application/json with a charset', async () => {
  const r = await request(h.socket, 'POST', '/containers/create', {
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ Image: 'busybox' }),
  });
  assert.is(r.status, 201);
});

test('create with a non-JSON Content-Type is dockerd 400', async () => {
  const r = await request(h.socket, 'POST', '/v1.41/containers/create', {
    headers: { 'Content-Type': 'text/plain' },
    body: JSON.stringify({ Image: 'busybox' }),
  });
  assert.is(r.status, 400);
  assert.equal(r.json(), { message: "Content-Type specified (text/plain) must be 'application/json'" });
});

test('create with malformed JSON is a 400 naming the problem', async () => {
  const r = await request(h.socket, 'POST', '/v1.41/containers/create', { headers: json, body: '{"Image": busybox}' });
  assert.is(r.status, 400);
  assert.match(r.json().message, /^malformed JSON in request body: .*JSON/);
  assert.ok(!h.engine.calls.some((c) => c.method === 'containers.create'));
});

test('create with no body is a 400', async () => {
  const r = await request(h.socket, 'POST', '/v1.41/containers/create', { headers: json });
  assert.is(r.status, 400);
  assert.is(r.json().message, 'config cannot be empty in order to create a container');
});

test('create of a missing image is the engine 404; a name clash its 409', async () => {
  const r = await request(h.socket, 'POST', '/containers/create', { headers: json, body: '{"Image":"nosuch"}' });
  assert.is(r.status, 404);
  assert.equal(r.json(), { message: 'No such image: nosuch:latest' });
  await createContainer(h.socket, { Image: 'busybox' }, 'bapi-a');
  const r2 = await request(h.socket, 'POST', '/containers/create?name=bapi-a', { headers: json, body: '{"Image":"busybox"}' });
  assert.is(r2.status, 409);
  assert.match(r2.json().message, /^Conflict\. The container name "\/bapi-a" is already in use/);
});

test('list parses all, limit, size and both filter encodings', async () => {
  await createContainer(h.socket, { Image: 'busybox', Labels: { trc: 'py' } }, 'bapi-one');
  await createContainer(h.socket, { Image: 'busybox' }, 'bapi-two');
  let r = await request(h.socket, 'GET', '/v1.41/containers/json');
  assert.equal(r.json(), []);
  r = await request(h.socket, 'GET', '/v1.41/containers/json?all=1');
  assert.is(r.json().length, 2);
  const cli = encodeURIComponent(JSON.stringify({ name: { 'bapi-one': true } }));
  r = await request(h.socket, 'GET', `/v1.41/containers/json?all=1&filters=${cli}`);
  assert.equal(
    r.json().map((c: { Names: string[] }) => c.Names[0]),
    ['/bapi-one'],
  );
  const py = encodeURIComponent(JSON.stringify({ label: ['trc=py'] }));
  r = await request(h.socket, 'GET', `/containers/json?limit=-1&all=True&size=False&trunc_cmd=0&filters=${py}`);
  assert.equal(
    r.json().map((c: { Names: string[] }) => c.Names[0]),
    ['/bapi-one'],
  );
  const call = h.engine.calls.filter((c) => c.method === 'containers.list').at(-1)!;
  assert.equal(call.args[0], { all: true, limit: undefined, size: false, filters: { label: ['trc=py'] } });
  r = await request(h.socket, 'GET', '/containers/json?all=1&limit=1&filters=null');
  assert.is(r.json().length, 1);
});

test('list with malformed filters is a 400', async () => {
  const r = await request(h.socket, 'GET', '/containers/json?filters=%7Bnope');
  assert.is(r.status, 400);
  assert.match(r.json().message, /^invalid filters: /);
});

test('inspect: 200 with the engine object, 404 with No such container', async () => {
  const id = await createContainer(h.socket, { Image: 'busybox', Cmd: ['sh'] }, 'bapi-i');
  const r = await request(h.socket, 'GET', '/v1.41/containers/bapi-i/json');
  assert.is(r.status, 200);
  const c = r.json();
  assert.is(c.Id, id);
  for (const key of ['Config', 'HostConfig', 'State', 'NetworkSettings', 'Mounts']) assert.ok(key in c, key);
  const missing = await request(h.socket, 'GET', '/containers/nosuch/json');
  assert.is(missing.status, 404);
  assert.is(missing.text, '{"message":"No such container: nosuch"}\n');
});

test('start 204 then 304 when running; stop 204 then 304 when stopped', async () => {
  // PID 1 ignores a SIGTERM it has no trap for: with the trap, stop need not wait out its timeout.
  await createContainer(h.socket, { Image: 'busybox', Cmd: ['sh', '-c', 'trap "exit 0" TERM; sleep inf & wait'] }, 'bapi-s');
  let r = await request(h.socket, 'POST', '/v1.41/containers/bapi-s/start', { headers: { 'Content-Type': 'text/plain' } });
  assert.is(r.status, 204);
  assert.is(r.body.length, 0);
  r = await request(h.socket, 'POST', '/v1.41/containers/bapi-s/start');
  assert.is(r.status, 304);
  assert.is(r.body.length, 0);
  await sleep(50); // the trap is set once the script runs
  r = await request(h.socket, 'POST', '/v1.41/containers/bapi-s/stop?t=2');
  assert.is(r.status, 204);
  assert.equal(h.engine.calls.find((c) => c.method === 'containers.stop')!.args, ['bapi-s', 2]);
  r = await request(h.socket, 'POST', '/v1.41/containers/bapi-s/stop');
  assert.is(r.status, 304);
  r = await request(h.socket, 'POST', '/v1.41/containers/bapi-s/stop?t=soon');
  assert.is(r.status, 400);
});

test('kill passes the signal; restart of a stopped container starts it', async () => {
  await createContainer(h.socket, { Image: 'busybox', Cmd: ['sh', '-c', 'trap "exit 129" HUP; sleep inf & wait'] }, 'bapi-k');
  assert.is((await request(h.socket, 'POST', '/containers/bapi-k/start')).status, 204);
  await sleep(50); // the trap is set once the script runs
  const r = await request(h.socket, 'POST', '/containers/bapi-k/kill?signal=HUP');
  assert.is(r.status, 204);
  assert.equal(h.engine.calls.find((c) => c.method === 'containers.kill')!.args, ['bapi-k', 'HUP']);
  // kill returns once the signal is sent, not when the container has exited.
  const waited = (await request(h.socket, 'POST', '/containers/bapi-k/wait')).json();
  assert.is(waited.StatusCode, 129);
  const notRunning = await request(h.socket, 'POST', '/containers/bapi-k/kill');
  assert.is(notRunning.status, 409);
  assert.is((await request(h.socket, 'POST', '/containers/bapi-k/restart?t=1')).status, 204);
  assert.equal(h.engine.calls.find((c) => c.method === 'containers.restart')!.args, ['bapi-k', 1]);
  const after = (await request(h.socket, 'GET', '/containers/bapi-k/json')).json();
  assert.is(after.State.Running, true);
  await request(h.socket, 'DELETE', '/containers/bapi-k?force=1');
});

test('DELETE reads Python booleans for force and v; 409 when running; 404 when missing', async () => {
  await createContainer(h.socket, { Image: 'busybox', Cmd: ['sleep', 'inf'] }, 'bapi-d');
  await request(h.socket, 'POST', '/containers/bapi-d/start');
  let r = await request(h.socket, 'DELETE', '/containers/bapi-d?v=False&link=False&force=False');
  assert.is(r.status, 409);
  assert.match(r.json().message, /^You cannot remove a running container/);
  r = await request(h.socket, 'DELETE', '/containers/bapi-d?v=True&link=False&force=True');
  assert.is(r.status, 204);
  const call = h.engine.calls.filter((c) => c.method === 'containers.remove').at(-1)!;
  assert.equal(call.args[1], { force: true, volumes: true });
  r = await request(h.socket, 'DELETE', '/containers/bapi-d');
  assert.is(r.status, 404);
  assert.is(r.json().message, 'No such container: bapi-d');
});

test('wait flushes its headers before the container exits, the body when it does', async () => {
  await createContainer(h.socket, { Image: 'busybox', Cmd: ['sh', '-c', 'sleep 0.3; exit 7'] }, 'bapi-w');
  const headersAt = await new Promise<{ status: number; at: number; body: Promise<string> }>((resolve, reject) => {
    const req = http.request({ socketPath: h.socket, method: 'POST', path: '/v1.41/containers/bapi-w/wait?condition=next-exit' }, (res) => {
      const at = Date.now();
      const body = new Promise<string>((r) => {
        let s = '';
        res.on('data', (c) => (s += c));
        res.on('end', () => r(s));
      });
      resolve({ status: res.statusCode!, at, body });
    });
    req.on('error', reject);
    req.end();
  });
  assert.is(headersAt.status, 200);
  // The headers came while the container had not even started.
  const state = (await request(h.socket, 'GET', '/containers/bapi-w/json')).json().State.Status;
  assert.is(state, 'created');
  const started = Date.now();
  await request(h.socket, 'POST', '/containers/bapi-w/start');
  const body = await headersAt.body;
  assert.ok(Date.now() - started >= 250, 'body came only after the exit');
  assert.equal(JSON.parse(body), { Error: null, StatusCode: 7 });
  assert.is(body, '{"Error":null,"StatusCode":7}\n');
});

test('wait: 404 for a missing container, 400 for a bad condition, immediate for not-running', async () => {
  let r = await request(h.socket, 'POST', '/containers/nosuch/wait');
  assert.is(r.status, 404);
  assert.is(r.json().message, 'No such container: nosuch');
  await createContainer(h.socket, { Image: 'busybox' }, 'bapi-w2');
  r = await request(h.socket, 'POST', '/containers/bapi-w2/wait?condition=whenever');
  assert.is(r.status, 400);
  r = await request(h.socket, 'POST', '/containers/bapi-w2/wait');
  assert.is(r.status, 200);
  assert.equal(r.json(), { Error: null, StatusCode: 0 });
});

test('logs: one frame per line per chunk, streams chosen, no Content-Type', async () => {
  await createContainer(h.socket, { Image: 'busybox', Cmd: ['sh', '-c', 'echo out1; echo err1 >&2; echo out2'] }, 'bapi-l');
  await request(h.socket, 'POST', '/containers/bapi-l/start');
  await until(() => h.engine.findContainer('bapi-l').status === 'exited');
  let r = await request(h.socket, 'GET', '/v1.41/containers/bapi-l/logs?stderr=1&stdout=1&tail=all');
  assert.is(r.status, 200);
  assert.is(r.headers['content-type'], undefined);
  assert.is(r.headers['transfer-encoding'], 'chunked');
  assert.equal(parseFrames(r.body), [
    { stream: 1, data: 'out1\n' },
    { stream: 2, data: 'err1\n' },
    { stream: 1, data: 'out2\n' },
  ]);
  r = await request(h.socket, 'GET', '/containers/bapi-l/logs?stdout=1&tail=1&timestamps=1');
  const frames = parseFrames(r.body);
  assert.is(frames.length, 1);
  assert.match(frames[0]!.data, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out2\n$/);
  r = await request(h.socket, 'GET', '/containers/bapi-l/logs');
  assert.is(r.status, 400);
  assert.is(r.json().message, 'Bad parameters: you must choose at least one stream');
  r = await request(h.socket, 'GET', '/containers/nosuch/logs?stdout=1');
  assert.is(r.status, 404);
});

test('logs of a tty container are raw bytes', async () => {
  await createContainer(h.socket, { Image: 'busybox', Tty: true, Cmd: ['echo', 'in-tty'] }, 'bapi-t');
  await request(h.socket, 'POST', '/containers/bapi-t/start');
  await until(() => h.engine.findContainer('bapi-t').status === 'exited');
  const r = await request(h.socket, 'GET', '/containers/bapi-t/logs?stdout=1&stderr=1');
  assert.is(r.text, 'in-tty\r\n');
});

test('logs follow streams lines as they come and stops when the client goes away', async () => {
  await createContainer(h.socket, { Image: 'busybox', Cmd: ['sh', '-c', 'echo a; sleep 0.2; echo b; sleep inf'] }, 'bapi-f');
  await request(h.socket, 'POST', '/containers/bapi-f/start');
  const seen: string[] = [];
  const req = http.request({ socketPath: h.socket, path: '/containers/bapi-f/logs?follow=1&stdout=1&stderr=1' });
  const res = await new Promise<http.IncomingMessage>((resolve) => {
    req.on('response', resolve);
    req.end();
  });
  let buf = Buffer.alloc(0);
  res.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    seen.splice(0, seen.length, ...parseFrames(buf).map((f) => f.data));
  });
  res.on('error', () => {});
  await until(() => seen.length === 2).catch(() => {
    throw new Error(`seen ${JSON.stringify(seen)}`);
  });
  assert.equal(seen, ['a\n', 'b\n']);
  const logsCall = h.engine.calls.find((c) => c.method === 'containers.logs')!;
  const signal = (logsCall.args[1] as { signal: AbortSignal }).signal;
  assert.is(signal.aborted, false);
  req.destroy();
  await until(() => signal.aborted);
  await request(h.socket, 'DELETE', '/containers/bapi-f?force=1');
});

test('stats: stream=0 is one JSON answer with its length; one-shot is passed on (API 1.41+); one-shot with a stream is a 400; unknown a 404', async () => {
  await createContainer(h.socket, { Image: 'busybox', Cmd: ['sleep', 'inf'] }, 'bapi-st');
  await request(h.socket, 'POST', '/containers/bapi-st/start');
  // What docker CLI 28's `stats --no-stream` sends for each container.
  let r = await request(h.socket, 'GET', '/v1.41/containers/bapi-st/stats?stream=0');
  assert.is(r.status, 200);
  assert.is(r.headers['content-type'], 'application/json');
  assert.is(Number(r.headers['content-length']), Buffer.byteLength(r.text));
  const sample = r.json();
  assert.is(sample.name, '/bapi-st');
  assert.is.not(sample.preread, '0001-01-01T00:00:00Z', 'an earlier reading: precpu_stats to compute a CPU % from');
  assert.ok(sample.precpu_stats.system_cpu_usage > 0);
  let call = h.engine.calls.filter((c) => c.method === 'containers.stats').at(-1)!;
  assert.equal(
    { ...(call.args[1] as object) },
    { stream: false, oneShot: false, signal: undefined },
    'a single answer needs no watch on the client',
  );
  r = await request(h.socket, 'GET', '/v1.41/containers/bapi-st/stats?stream=false&one-shot=1');
  assert.is(r.status, 200);
  assert.is(r.json().preread, '0001-01-01T00:00:00Z');
  assert.is(r.json().precpu_stats.cpu_usage.total_usage, 0);
  call = h.engine.calls.filter((c) => c.method === 'containers.stats').at(-1)!;
  assert.is((call.args[1] as { oneShot: boolean }).oneShot, true);
  r = await request(h.socket, 'GET', '/v1.41/containers/bapi-st/stats?stream=1&one-shot=1');
  assert.is(r.status, 400);
  assert.equal(r.json(), { message: 'cannot have stream=true and one-shot=true' });
  // Older clients knew no one-shot: dockerd reads it only from API 1.41 on.
  r = await request(h.socket, 'GET', '/v1.40/containers/bapi-st/stats?stream=0&one-shot=1');
  assert.is(r.status, 200);
  assert.is.not(r.json().preread, '0001-01-01T00:00:00Z');
  r = await request(h.socket, 'GET', '/v1.41/containers/bapi-nosuch/stats?stream=0');
  assert.is(r.status, 404);
  await request(h.socket, 'DELETE', '/containers/bapi-st?force=1');
});

test.run();
