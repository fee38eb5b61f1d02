import type * as net from 'node:net';
import type { Logger } from '@berth/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FakeEngine } from './support/fake-engine.js';
import { collectUntilClose, type Harness, rawConnect, request, sleep, startServer, until } from './support/harness.js';

/** Short limits, so every bound is reached within a unit test's time. */
const limits = { maxConnections: 6, headersTimeoutMs: 300, idleTimeoutMs: 300, bodyIdleTimeoutMs: 300 };

interface Record {
  level: string;
  message: string;
  fields?: { [key: string]: unknown };
}

function recordingLogger(records: Record[]): Logger {
  const log = (level: string) => (message: string, fields?: { [key: string]: unknown }) => records.push({ level, message, fields });
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

async function withServer(
  fn: (h: Harness, records: Record[]) => Promise<void>,
  engine = new FakeEngine(),
  overrides: Partial<typeof limits> = {},
): Promise<void> {
  const records: Record[] = [];
  const h = await startServer(engine, { limits: { ...limits, ...overrides }, logger: recordingLogger(records) });
  const opened: net.Socket[] = [];
  try {
    await fn(h, records);
  } finally {
    for (const s of opened) s.destroy();
    await h.close();
  }
}

/** The status line and the JSON body of a whole raw response. */
function parseRaw(raw: Buffer): { status: number; headers: string; json: { message: string } } {
  const text = raw.toString();
  const split = text.indexOf('\r\n\r\n');
  return {
    status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0),
    headers: text.slice(0, split),
    json: JSON.parse(text.slice(split + 4)),
  };
}

async function sendRaw(socketPath: string, data: string | Buffer): Promise<Buffer> {
  const s = await rawConnect(socketPath);
  const done = collectUntilClose(s);
  s.write(data);
  return done;
}

test('a connection that never sends its headers gets a JSON 408 and is closed', () =>
  withServer(async (h) => {
    const silent = await rawConnect(h.socket);
    const dribbler = await rawConnect(h.socket);
    const silentDone = collectUntilClose(silent);
    const dribbled = collectUntilClose(dribbler);
    const bytes = 'GET /_ping HTTP/1.1\r\nHost: x\r\n';
    let i = 0;
    const drip = setInterval(() => {
      if (!dribbler.destroyed && dribbler.writable) dribbler.write(bytes[i++ % bytes.length]!);
    }, 40);
    try {
      for (const raw of [await silentDone, await dribbled]) {
        const r = parseRaw(raw);
        assert.is(r.status, 408);
        assert.match(r.json.message, 'request headers not received within 0.3 s');
      }
    } finally {
      clearInterval(drip);
    }
  }));

test('an idle keep-alive connection is closed; an /events stream outlives every timeout', () =>
  withServer(async (h) => {
    const s = await rawConnect(h.socket);
    const closed = collectUntilClose(s);
    s.write('GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match((await closed).toString(), /^HTTP\/1\.1 200 OK/);

    const events = await rawConnect(h.socket);
    let got = '';
    events.on('data', (d) => (got += d));
    events.write('GET /v1.41/events HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(1000); // past the headers, idle and body limits, several times over
    h.engine.events.publish('container', 'start', 'c'.repeat(64), { name: 'late' });
    await until(() => got.includes('"late"'));
    assert.not.ok(events.destroyed);
    events.destroy();
  }));

test('past the limit, the connection idle longest makes room; when all are busy the newcomer gets a JSON 503', () =>
  withServer(
    async (h, records) => {
      const idle: net.Socket[] = [];
      try {
        for (let i = 0; i < limits.maxConnections; i++) idle.push(await rawConnect(h.socket));
        await until(() => h.server.connectionStats().open === limits.maxConnections);
        // The client's end of the evicted socket sees the server's FIN.
        const firstClosed = new Promise((resolve) => idle[0]!.once('end', resolve));
        const r = await request(h.socket, 'GET', '/_ping', { headers: { Connection: 'close' } });
        assert.is(r.status, 200, 'a newcomer is served');
        await firstClosed;
        assert.is(h.server.connectionStats().evicted >= 1, true);
        for (const s of idle) s.destroy();
        await until(() => h.server.connectionStats().open === 0);

        // Busy connections (event streams) are never evicted.
        for (let i = 0; i < limits.maxConnections; i++) {
          const s = await rawConnect(h.socket);
          idle.push(s);
          s.write('GET /v1.41/events HTTP/1.1\r\nHost: x\r\n\r\n');
        }
        await until(() => h.server.connectionStats().idle === 0 && h.server.connectionStats().open === limits.maxConnections);
        const refused = parseRaw(await sendRaw(h.socket, 'GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n'));
        assert.is(refused.status, 503);
        assert.match(refused.json.message, `too many connections: all ${limits.maxConnections} the server holds are busy`);
        assert.ok(records.some((r) => r.level === 'warn' && r.message.includes('connection limit of 6 reached')));
      } finally {
        for (const s of idle) s.destroy();
      }
      // Idle sockets must outlive the set-up here: the headers and idle limits are long.
    },
    new FakeEngine(),
    { headersTimeoutMs: 10_000, idleTimeoutMs: 10_000 },
  ));

test('a JSON body past the limit is a JSON 413 and the connection is closed', () =>
  withServer(async (h) => {
    const body = Buffer.alloc(17 * 1024 * 1024, 0x20);
    const r = await request(h.socket, 'POST', '/v1.41/containers/create', { headers: { 'Content-Type': 'application/json' }, body });
    assert.is(r.status, 413);
    assert.is(r.json().message, 'request body exceeds 16777216 bytes');
    assert.is(r.headers.connection, 'close');
    assert.equal(
      h.engine.calls.filter((c) => c.method === 'containers.create'),
      [],
    );
  }));

test('JSON nested past the depth limit is a 400, whatever the strings hold; a normal body is not', () =>
  withServer(async (h) => {
    const deep = (n: number) => `{"Image":"busybox","X":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`;
    const post = (body: string) =>
      request(h.socket, 'POST', '/v1.41/containers/create', { headers: { 'Content-Type': 'application/json' }, body });
    const r = await post(deep(5000));
    assert.is(r.status, 400);
    assert.is(r.json().message, 'request body nests JSON deeper than 512 levels');
    assert.is((await post(`{"Image":"busybox","Cmd":["${'[{'.repeat(1000)}\\"]"]}`)).status, 201, 'brackets in strings do not count');
    assert.is((await post(deep(100))).status, 201);
  }));

test('an upload that stops arriving gets a JSON 408 and is closed; a slow steady one completes', () =>
  withServer(async (h, records) => {
    const stalled = parseRaw(
      await sendRaw(
        h.socket,
        'POST /v1.41/images/load HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: 1000\r\n\r\nabc',
      ),
    );
    assert.is(stalled.status, 408);
    assert.match(stalled.json.message, 'request body stalled: nothing received for 0.3 s');
    assert.ok(records.some((r) => r.level === 'debug' && r.message.startsWith('request body stalled')));

    const s = await rawConnect(h.socket);
    const done = collectUntilClose(s);
    s.write('POST /v1.41/images/load HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 10\r\n\r\n');
    for (let i = 0; i < 10; i++) {
      await sleep(150); // each pause is half the idle limit; the whole upload takes five times it
      s.write('x');
    }
    const raw = (await done).toString();
    assert.match(raw, /^HTTP\/1\.1 200 OK/);
    assert.match(raw, 'Loaded image: busybox:latest');
  }));

test('requests the parser refuses get a JSON 400 or 431 and the connection is closed', () =>
  withServer(async (h) => {
    const shapes = [
      'POST /_ping HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST /_ping HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
      'GET /_ping HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n',
      'GET /_ping HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n',
      'NOT-HTTP\r\n\r\n',
    ];
    for (const shape of shapes) {
      const r = parseRaw(await sendRaw(h.socket, shape));
      assert.is(r.status, 400, shape);
      assert.match(r.json.message, /^malformed HTTP request: /);
    }
    const big = parseRaw(await sendRaw(h.socket, `GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`));
    assert.is(big.status, 431);
  }));

test('a client that leaves mid-body is logged once, at debug level, without a stack', () =>
  withServer(async (h, records) => {
    for (let i = 0; i < 20; i++) {
      const s = await rawConnect(h.socket);
      s.write('POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"Ima');
      await sleep(10);
      s.destroy();
    }
    await until(() => records.filter((r) => r.message.startsWith('client closed')).length === 20);
    await sleep(100);
    assert.equal(
      records.filter((r) => r.level !== 'debug'),
      [],
    );
    assert.is(records.filter((r) => r.message.startsWith('client closed')).length, 20, 'one line per abort');
    assert.ok(records.every((r) => r.fields?.stack === undefined));
  }));

test('an unexpected error is a 500 with its message alone, logged once with its stack', () => {
  const engine = new FakeEngine();
  engine.info = async () => {
    const err = new TypeError("Cannot read properties of undefined (reading 'x')");
    err.stack = `${err.message}\n    at secret (/srv/berth/engine.js:1:1)`;
    throw err;
  };
  return withServer(async (h, records) => {
    const r = await request(h.socket, 'GET', '/v1.41/info');
    assert.is(r.status, 500);
    assert.equal(r.json(), { message: "Cannot read properties of undefined (reading 'x')" });
    assert.not.match(r.text, 'secret');
    const errors = records.filter((rec) => rec.level === 'error');
    assert.is(errors.length, 1);
    assert.match(String(errors[0]!.fields?.stack), 'at secret');
  }, engine);
});

test('pipelined requests are answered in order; HTTP/1.0 is answered and closed', () =>
  withServer(async (h) => {
    const both = (
      await sendRaw(
        h.socket,
        'GET /_ping HTTP/1.1\r\nHost: x\r\n\r\nGET /v1.41/version HTTP/1.1\r\nHost: x\r\n\r\nGET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      )
    ).toString();
    const statuses = [...both.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]);
    assert.equal(statuses, ['200', '200', '200']);
    assert.ok(both.indexOf('"ApiVersion"') > both.indexOf('OK'), 'the version answer comes second');
    const old = (await sendRaw(h.socket, 'GET /_ping HTTP/1.0\r\n\r\n')).toString();
    assert.match(old, /^HTTP\/1\.1 200 OK/);
    assert.match(old, /\r\n\r\nOK$/);
  }));

test.run();
