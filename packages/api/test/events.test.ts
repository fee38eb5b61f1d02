import * as http from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dockerEventLine, eventMatches } from '../src/index.js';
import { type Harness, request, startServer, until } from './support/harness.js';

let h: Harness;
test.before.each(async () => {
  h = await startServer();
});
test.after.each(async () => {
  await h.close();
});

// Event lines are Docker's JSON, read field by field in the assertions.
type EventLine = { Action: string; status?: string; from?: string; Actor: { ID: string; Attributes: Record<string, string> } };

function stream(path: string): { lines: EventLine[]; res: Promise<http.IncomingMessage>; req: http.ClientRequest; ended: Promise<void> } {
  const lines: EventLine[] = [];
  const req = http.request({ socketPath: h.socket, path });
  let resolveEnd!: () => void;
  const ended = new Promise<void>((r) => (resolveEnd = r));
  const res = new Promise<http.IncomingMessage>((resolve) => {
    req.on('response', (res) => {
      let buf = '';
      res.on('data', (c) => {
        buf += c;
        for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
          lines.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
        }
      });
      res.on('end', resolveEnd);
      res.on('error', () => {});
      resolve(res);
    });
  });
  req.on('error', () => {});
  req.end();
  return { lines, res, req, ended };
}

test('event lines have Docker shape with legacy fields and an exact timeNano', () => {
  const line = dockerEventLine({
    type: 'container',
    action: 'die',
    id: 'abc',
    attributes: { exitCode: '3', image: 'busybox', name: 'web' },
    timeNano: 1795378688233298911n,
  });
  assert.is(
    line,
    '{"status":"die","id":"abc","from":"busybox","Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"exitCode":"3","image":"busybox","name":"web"}},"scope":"local","time":1795378688,"timeNano":1795378688233298911}\n',
  );
  const net = dockerEventLine({ type: 'network', action: 'connect', id: 'n1', attributes: {}, timeNano: 5n });
  assert.not.match(net, /status/);
});

test('live events stream as they happen, filtered, and the listener goes when the client does', async () => {
  const f = encodeURIComponent(JSON.stringify({ container: { 'bapi-ev': true }, event: ['start', 'die'] }));
  const s = stream(`/v1.41/events?filters=${f}`);
  const res = await s.res;
  assert.is(res.statusCode, 200);
  assert.is(res.headers['content-type'], 'application/json');
  const before = h.engine.events.listenerCount('event');
  await request(h.socket, 'POST', '/containers/create?name=bapi-other', {
    headers: { 'Content-Type': 'application/json' },
    body: '{"Image":"busybox","Cmd":["exit","1"]}',
  });
  await request(h.socket, 'POST', '/containers/bapi-other/start');
  await request(h.socket, 'POST', '/containers/create?name=bapi-ev', {
    headers: { 'Content-Type': 'application/json' },
    body: '{"Image":"busybox","Cmd":["exit","4"]}',
  });
  await request(h.socket, 'POST', '/containers/bapi-ev/start');
  await until(() => s.lines.length === 2);
  assert.equal(
    s.lines.map((l) => [l.Action, l.Actor.Attributes.name]),
    [
      ['start', 'bapi-ev'],
      ['die', 'bapi-ev'],
    ],
  );
  assert.is(s.lines[1].Actor.Attributes.exitCode, '4');
  assert.is(s.lines[1].status, 'die');
  assert.is(s.lines[1].from, 'busybox');
  s.req.destroy();
  await until(() => h.engine.events.listenerCount('event') === before - 1);
});

test('since replays remembered events; an until in the past ends the stream', async () => {
  const t0 = Date.now() / 1000 - 1;
  h.engine.events.publish('image', 'tag', 'sha256:aa', { name: 'x:1' });
  h.engine.events.publish('container', 'create', 'c1', { name: 'n', image: 'busybox' });
  const t1 = Date.now() / 1000 + 0.001;
  const r = await request(h.socket, 'GET', `/events?since=${t0}&until=${t1}`);
  assert.is(r.status, 200);
  const lines = r.text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(
    lines.map((l) => `${l.Type}/${l.Action}`),
    ['image/tag', 'container/create'],
  );
  const typed = await request(h.socket, 'GET', `/events?since=${t0}&until=${t1}&filters=${encodeURIComponent('{"type":["image"]}')}`);
  assert.is(typed.text.trim().split('\n').length, 1);
  const img = await request(h.socket, 'GET', `/events?since=${t0}&until=${t1}&filters=${encodeURIComponent('{"image":["busybox"]}')}`);
  assert.is(JSON.parse(img.text).Action, 'create');
});

test('a future until ends the stream at that time', async () => {
  const started = Date.now();
  const s = stream(`/events?until=${(Date.now() + 300) / 1000}`);
  await s.res;
  h.engine.events.publish('image', 'tag', 'sha256:bb', {});
  await s.ended;
  assert.ok(Date.now() - started >= 250);
  assert.is(s.lines.length, 1);
});

test('an unknown filter is a 400', async () => {
  const r = await request(h.socket, 'GET', `/events?filters=${encodeURIComponent('{"colour":["red"]}')}`);
  assert.is(r.status, 400);
  assert.is(r.json().message, "invalid filter 'colour'");
});

test("event filters match as dockerd's: exec and health actions by their name before the colon, exact otherwise; labels; actors by prefix", () => {
  const ev = (action: string, attributes: Record<string, string> = {}) => ({
    type: 'container' as const,
    action,
    id: 'c0ffee',
    attributes: { image: 'busybox', name: 'web-1', ...attributes },
    timeNano: 1n,
  });
  const passes = (action: string, filters: Record<string, string[]>, attributes?: Record<string, string>) =>
    eventMatches(ev(action, attributes), filters);
  assert.ok(passes('exec_start: sh -c true', { event: ['exec_start'] }));
  assert.ok(passes('exec_create: sh -c true', { event: ['exec_create'] }));
  assert.ok(passes('health_status: healthy', { event: ['health_status'] }));
  assert.ok(passes('health_status: unhealthy', { event: ['health_status: unhealthy'] }));
  assert.not.ok(passes('health_status: healthy', { event: ['health_status: unhealthy'] }));
  assert.not.ok(passes('exec_start: sh -c true', { event: ['exec_create'] }));
  assert.not.ok(passes('exec_die', { event: ['exec_start'] }));
  assert.ok(passes('exec_die', { event: ['exec_die'] }));
  assert.not.ok(passes('start', { event: ['star'] }), 'exact without an action that has a detail');
  // dockerd's quirk: once the filter names one of those, every value matches as a prefix.
  assert.ok(passes('start', { event: ['exec_start', 'star'] }));
  assert.ok(passes('exec_start: true', { event: ['exec_start'], label: ['team=blue'] }, { team: 'blue' }));
  assert.not.ok(passes('exec_start: true', { event: ['exec_start'], label: ['team=red'] }, { team: 'blue' }));
  assert.ok(passes('health_status: healthy', { container: ['web'] }), 'a name prefix');
  assert.ok(passes('health_status: healthy', { container: ['c0f'] }), 'an id prefix');
  assert.not.ok(passes('health_status: healthy', { container: ['db'] }));
});

test.run();
