import * as http from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createApiServer, upgradeResponse } from '../src/index.js';
import {
  collectUntilClose,
  createContainer,
  type Harness,
  parseFrames,
  rawConnect,
  request,
  startServer,
  until,
} from './support/harness.js';

let h: Harness;
test.before.each(async () => {
  h = await startServer();
});
test.after.each(async () => {
  await h.close();
});

function attachRequest(id: string, query: string, extra = ''): string {
  return (
    `POST /v1.41/containers/${id}/attach?${query} HTTP/1.1\r\n` +
    'Host: api.moby.localhost\r\nUser-Agent: Docker-Client/28.2.2 (linux)\r\nContent-Length: 0\r\n' +
    `Connection: Upgrade\r\nContent-Type: text/plain\r\nUpgrade: tcp\r\n\r\n${extra}`
  );
}

/** Reads from the socket until the 101 head is complete; returns the head and whatever followed. */
function readHead(s: import('node:net').Socket): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end !== -1) {
        s.off('data', onData);
        s.pause();
        resolve({ head: buf.subarray(0, end + 4).toString(), rest: buf.subarray(end + 4) });
      }
    };
    s.on('data', onData);
  });
}

test('attach upgrade: exact 101, output framed after start, client half-closed, server closes at exit', async () => {
  const id = await createContainer(h.socket, {
    Image: 'busybox',
    Cmd: ['sh', '-c', 'echo to-out; echo to-err >&2; exit 2'],
    AttachStdout: true,
    AttachStderr: true,
  });
  const s = await rawConnect(h.socket);
  s.write(attachRequest(id, 'stderr=1&stdout=1&stream=1'));
  // Like the CLI without stdin: half-close at once, keep reading.
  s.end();
  const { head, rest } = await readHead(s);
  assert.is(head, upgradeResponse);
  assert.is(
    head,
    'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
  );
  const body = collectUntilClose(s);
  s.resume();
  assert.is((await request(h.socket, 'POST', `/containers/${id}/start`)).status, 204);
  const out = Buffer.concat([rest, await body]);
  assert.equal(parseFrames(out), [
    { stream: 1, data: 'to-out\n' },
    { stream: 2, data: 'to-err\n' },
  ]);
  // FIN without stdin requested must not close the container's stdin.
  assert.not.ok(h.engine.calls.some((c) => c.method === 'session.closeStdin'));
  const attach = h.engine.calls.find((c) => c.method === 'containers.attach')!;
  assert.equal(attach.args[1], { stdin: false, stdout: true, stderr: true, logs: false, stream: true });
});

test('attach with stdin: bytes go to the container, FIN closes stdin, output comes back', async () => {
  const id = await createContainer(h.socket, { Image: 'busybox', Cmd: ['cat'], OpenStdin: true, StdinOnce: true });
  const s = await rawConnect(h.socket);
  // stdin bytes right behind the request head, as the CLI sends them.
  s.write(attachRequest(id, 'stderr=1&stdin=1&stdout=1&stream=1', 'line1\n'));
  const { head, rest } = await readHead(s);
  assert.is(head, upgradeResponse);
  const body = collectUntilClose(s);
  s.resume();
  await request(h.socket, 'POST', `/containers/${id}/start`);
  s.write('line2\n');
  s.end();
  const frames = parseFrames(Buffer.concat([rest, await body]));
  assert.is(frames.map((f) => f.data).join(''), 'line1\nline2\n');
  assert.ok(frames.every((f) => f.stream === 1));
  const stdin = h.engine.calls.filter((c) => c.method === 'session.writeStdin').map((c) => c.args[0]);
  assert.equal(stdin.join(''), 'line1\nline2\n');
  assert.ok(h.engine.calls.some((c) => c.method === 'session.closeStdin'));
  assert.is(h.engine.findContainer(id).status, 'exited');
});

test('attach to a tty container streams raw bytes', async () => {
  const id = await createContainer(h.socket, { Image: 'busybox', Tty: true, Cmd: ['echo', 'in-tty'] });
  const s = await rawConnect(h.socket);
  s.write(attachRequest(id, 'stdout=1&stderr=1&stream=1'));
  const { rest } = await readHead(s);
  const body = collectUntilClose(s);
  s.resume();
  await request(h.socket, 'POST', `/containers/${id}/start`);
  s.end();
  assert.is(Buffer.concat([rest, await body]).toString(), 'in-tty\r\n');
});

test('a client that resets the connection detaches the session; the container keeps running', async () => {
  // A RST exists only on TCP; the same server class listens there too.
  const tcp = createApiServer(h.engine, { serverVersion: 'x' });
  await tcp.listen({ host: '127.0.0.1', port: 0 });
  try {
    const { port } = tcp.server.address() as AddressInfo;
    const id = await createContainer(h.socket, { Image: 'busybox', Cmd: ['sleep', 'inf'] });
    const s = await new Promise<Socket>((resolve) => {
      const c = connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(c));
    });
    s.write(attachRequest(id, 'stdout=1&stderr=1&stream=1'));
    await readHead(s);
    await request(h.socket, 'POST', `/containers/${id}/start`);
    s.resetAndDestroy();
    await until(() => h.engine.calls.some((c) => c.method === 'session.detach'));
    assert.is(h.engine.findContainer(id).status, 'running');
    await request(h.socket, 'DELETE', `/containers/${id}?force=1`);
  } finally {
    await tcp.close();
  }
});

test('a client that closed (FIN) is noticed at the next output and detached', async () => {
  // A FIN alone cannot mean "gone": the CLI half-closes at once and keeps reading (§5.2).
  const id = await createContainer(h.socket, { Image: 'busybox', Cmd: ['sh', '-c', 'sleep 0.3; echo late; echo later; sleep inf'] });
  const s = await rawConnect(h.socket);
  s.write(attachRequest(id, 'stdout=1&stderr=1&stream=1'));
  await readHead(s);
  await request(h.socket, 'POST', `/containers/${id}/start`);
  s.destroy();
  await new Promise((r) => setTimeout(r, 100));
  assert.not.ok(h.engine.calls.some((c) => c.method === 'session.detach'));
  await until(() => h.engine.calls.some((c) => c.method === 'session.detach'));
  assert.is(h.engine.findContainer(id).status, 'running');
  await request(h.socket, 'DELETE', `/containers/${id}?force=1`);
});

test('attach upgrade to a missing container is a plain 404 and the socket closes', async () => {
  const s = await rawConnect(h.socket);
  s.write(attachRequest('nosuch', 'stdout=1&stream=1'));
  const all = (await collectUntilClose(s)).toString();
  assert.match(all, /^HTTP\/1\.1 404 Not Found\r\n/);
  assert.match(all, /\r\nApi-Version: 1\.41\r\n/);
  assert.ok(all.endsWith('\r\n\r\n{"message":"No such container: nosuch"}\n'));
});

test('upgrade on a route that cannot be hijacked is 404 page not found', async () => {
  const s = await rawConnect(h.socket);
  s.write('POST /session HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n');
  const all = (await collectUntilClose(s)).toString();
  assert.match(all, /^HTTP\/1\.1 404 /);
  assert.ok(all.endsWith('{"message":"page not found"}\n'));
});

test('attach without Upgrade: 200 raw-stream, no length, no chunking, then close', async () => {
  const id = await createContainer(h.socket, { Image: 'busybox', Cmd: ['sh', '-c', 'echo plain; exit 0'] });
  const s = await rawConnect(h.socket);
  s.write(`POST /containers/${id}/attach?stdout=1&stderr=1&stream=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
  const { head, rest } = await readHead(s);
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head, /\r\nContent-Type: application\/vnd\.docker\.raw-stream\r\n/);
  assert.not.match(head, /Content-Length|Transfer-Encoding/i);
  assert.match(head, /\r\nConnection: close\r\n/);
  const body = collectUntilClose(s);
  s.resume();
  await request(h.socket, 'POST', `/containers/${id}/start`);
  assert.equal(parseFrames(Buffer.concat([rest, await body])), [{ stream: 1, data: 'plain\n' }]);
});

test('attach via node http client upgrade, the way libraries do it', async () => {
  const id = await createContainer(h.socket, { Image: 'busybox', Cmd: ['echo', 'via-node'] });
  const req = http.request({
    socketPath: h.socket,
    method: 'POST',
    path: `/v1.41/containers/${id}/attach?stdout=1&stream=1`,
    headers: { Connection: 'Upgrade', Upgrade: 'tcp' },
  });
  const [res, socket] = await new Promise<[http.IncomingMessage, import('node:net').Socket]>((resolve) => {
    req.on('upgrade', (r, s) => resolve([r, s as import('node:net').Socket]));
    req.end();
  });
  assert.is(res.statusCode, 101);
  assert.is(res.headers['content-type'], 'application/vnd.docker.raw-stream');
  const body = collectUntilClose(socket);
  await request(h.socket, 'POST', `/containers/${id}/start`);
  assert.equal(parseFrames(await body), [{ stream: 1, data: 'via-node\n' }]);
});

test.run();
