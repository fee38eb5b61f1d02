import type * as http from 'node:http';
import type * as net from 'node:net';
import { encodeFrame } from '@berth/client';
import { FakeDaemon, sendError, sendJson, UPGRADE_RESPONSE } from '@berth/client/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../src/main.js';
import { ID, testIo } from './helpers.js';

interface Behaviour {
  exitCode?: number;
  stdout?: string;
  stderr?: string;
  /** Echo what arrives on stdin back as stdout, after the client's half-close. */
  echoStdin?: boolean;
  /** Milliseconds before the 101 / the wait headers go out: the CLI must wait for them before start. */
  attachDelay?: number;
  waitDelay?: number;
  createError?: [number, string];
  startError?: [number, string];
  warnings?: string[];
  /** Keep "running" after start until `exit()` is called. */
  untilExit?: boolean;
}

/**
 * A container as the fake daemon plays it: create answers an id; attach and wait are
 * answered after a delay; start, if attach and wait were both established, "runs" the
 * process: frames on the attach socket, then the socket closes, then wait answers.
 */
function playContainer(fake: FakeDaemon, b: Behaviour): { exit(code: number): void } {
  let attachSocket: net.Socket | undefined;
  let stdinDone: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
  let waitRes: http.ServerResponse | undefined;
  fake.on('POST', '/containers/create', (_req, res) => {
    if (b.createError) return sendError(res, ...b.createError);
    sendJson(res, 201, { Id: ID, Warnings: b.warnings ?? [] });
  });
  fake.onUpgrade('POST', `/containers/${ID}/attach`, (_req, socket) => {
    attachSocket = socket;
    stdinDone = new Promise((resolve) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => {
        fake.note('client half-closed attach');
        resolve(Buffer.concat(chunks));
      });
    });
    setTimeout(() => {
      socket.write(UPGRADE_RESPONSE);
      fake.note('attach established');
    }, b.attachDelay ?? 0);
  });
  fake.on('POST', `/containers/${ID}/wait`, (_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      waitRes = res;
      fake.note('wait established');
    }, b.waitDelay ?? 0);
  });
  fake.on('POST', `/containers/${ID}/start`, async (req, res) => {
    if (b.startError) {
      sendError(res, ...b.startError);
      if (req && fake.find('POST', `/containers/${ID}/wait`)[0]?.query.get('condition') === 'removed') {
        setTimeout(() => waitRes?.end(`${JSON.stringify({ StatusCode: 0, Error: null })}\n`), 20);
      }
      return;
    }
    res.writeHead(204);
    res.end();
    if (b.untilExit) return;
    const socket = attachSocket;
    if (socket) {
      if (b.stdout) socket.write(encodeFrame(1, b.stdout));
      if (b.stderr) socket.write(encodeFrame(2, b.stderr));
      const input = await stdinDone;
      if (b.echoStdin) socket.write(encodeFrame(1, `stdin:${input.toString()}`));
      socket.end();
    }
    setTimeout(() => {
      fake.note('process exited');
      waitRes?.end(`${JSON.stringify({ StatusCode: b.exitCode ?? 0, Error: null })}\n`);
    }, 10);
  });
  return {
    exit(code) {
      attachSocket?.end();
      setTimeout(() => waitRes?.end(`${JSON.stringify({ StatusCode: code, Error: null })}\n`), 10);
    },
  };
}

const t = suite<{ fake: FakeDaemon }>('run');

t.before.each(async (ctx) => {
  ctx.fake = await FakeDaemon.start('berth-unit-cli');
});

t.after.each(async (ctx) => {
  await ctx.fake.close();
});

t('foreground --rm: create → attach ∥ wait, both established → start; output and exit code', async ({ fake }) => {
  playContainer(fake, { exitCode: 3, stdout: 'hi\n', stderr: 'warn\n', attachDelay: 40, waitDelay: 60 });
  const io = testIo({ host: fake.host });
  const code = await main(['run', '--rm', 'busybox', 'echo', 'hi'], io);
  assert.is(code, 3);
  assert.is(io.out(), 'hi\n');
  assert.is(io.err(), 'warn\n');
  const log = fake.log;
  const at = (line: string): number => {
    const i = log.indexOf(line);
    assert.ok(i >= 0, `${line} in ${JSON.stringify(log)}`);
    return i;
  };
  assert.is(at('POST /containers/create'), 0);
  assert.ok(at('attach established') < at(`POST /containers/${ID}/start`), 'attach was established before start');
  assert.ok(at('wait established') < at(`POST /containers/${ID}/start`), 'wait was established before start');
  assert.ok(at('client half-closed attach') < at(`POST /containers/${ID}/start`), 'no stdin: half-closed at once');
  const attach = fake.find('POST', `/containers/${ID}/attach`)[0]!;
  assert.equal(Object.fromEntries(attach.query), { stream: '1', stdout: '1', stderr: '1' });
  assert.is(fake.find('POST', `/containers/${ID}/wait`)[0]!.query.get('condition'), 'removed');
  const body = JSON.parse(fake.find('POST', '/containers/create')[0]!.body.toString());
  assert.equal(body.Cmd, ['echo', 'hi']);
  assert.is(body.HostConfig.AutoRemove, true);
  assert.is(io.subscribers(), 0, 'signal forwarding stopped');
});

t('without --rm the wait condition is next-exit; exit 0 propagates', async ({ fake }) => {
  playContainer(fake, { exitCode: 0, stdout: 'ok\n' });
  const io = testIo({ host: fake.host });
  assert.is(await main(['run', 'busybox', 'true'], io), 0);
  assert.is(fake.find('POST', `/containers/${ID}/wait`)[0]!.query.get('condition'), 'next-exit');
  assert.is(io.out(), 'ok\n');
});

t('-d: no attach, wait established before start, the full id printed', async ({ fake }) => {
  playContainer(fake, { waitDelay: 30 });
  const io = testIo({ host: fake.host });
  assert.is(await main(['run', '-d', '--name', 'web', 'busybox', 'sleep', '100'], io), 0);
  assert.is(io.out(), `${ID}\n`);
  assert.equal(fake.find('POST', `/containers/${ID}/attach`), []);
  assert.is(fake.find('POST', '/containers/create')[0]!.query.get('name'), 'web');
  assert.ok(fake.log.indexOf('wait established') < fake.log.indexOf(`POST /containers/${ID}/start`));
});

t('missing image: "Unable to find image", a pull that fails is reported, exit 125; --pull never does not pull', async ({ fake }) => {
  playContainer(fake, { createError: [404, 'No such image: nosuch:latest'] });
  fake.on('POST', '/images/create', (_req, res) =>
    sendError(res, 404, 'manifest for nosuch:latest not found: manifest unknown: manifest unknown'),
  );
  const io = testIo({ host: fake.host });
  assert.is(await main(['run', 'nosuch'], io), 125);
  assert.is(
    io.err(),
    "Unable to find image 'nosuch:latest' locally\nberth: Error response from daemon: manifest for nosuch:latest not found: manifest unknown: manifest unknown.\nSee 'berth run --help'.\n",
  );
  assert.is(io.out(), '');
  assert.equal(fake.log, ['POST /containers/create', 'POST /images/create']);
  assert.is(fake.find('POST', '/images/create')[0]!.query.get('fromImage'), 'nosuch');
  const never = testIo({ host: fake.host });
  fake.log.length = 0;
  assert.is(await main(['run', '--pull', 'never', 'nosuch'], never), 125);
  assert.is(never.err(), "berth: Error response from daemon: No such image: nosuch:latest.\nSee 'berth run --help'.\n");
  assert.equal(fake.log, ['POST /containers/create']);
});

t('missing image: pulled (progress on stderr), then created again and run', async ({ fake }) => {
  playContainer(fake, { exitCode: 0, stdout: 'ok\n' });
  let creates = 0;
  fake.on('POST', '/containers/create', (_req, res) => {
    creates++;
    if (creates === 1) return sendError(res, 404, 'No such image: busybox:latest');
    sendJson(res, 201, { Id: ID, Warnings: [] });
  });
  fake.on('POST', '/images/create', (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"status":"Pulling from library/busybox","id":"latest"}\n{"status":"Status: Downloaded newer image for busybox:latest"}\n');
  });
  const io = testIo({ host: fake.host });
  assert.is(await main(['run', '--rm', 'busybox'], io), 0);
  assert.is(io.out(), 'ok\n');
  assert.match(
    io.err(),
    /Unable to find image 'busybox:latest' locally\nlatest: Pulling from library\/busybox\nStatus: Downloaded newer image for busybox:latest\n/,
  );
  assert.is(creates, 2);
});

t('start errors: 127 for a missing executable, 126 for permission denied, 125 otherwise', async ({ fake }) => {
  const cases: Array<[string, number]> = [
    ['failed to create shim task: OCI runtime create failed: exec: "nosuchcmd": executable file not found in $PATH: unknown', 127],
    ['exec: "/etc/passwd": permission denied: unknown', 126],
    ['driver failed programming external connectivity: port is already allocated', 125],
  ];
  for (const [message, status] of cases) {
    fake.requests.length = 0;
    playContainer(fake, { startError: [400, message] });
    const io = testIo({ host: fake.host });
    assert.is(await main(['run', '--rm', 'busybox', 'nosuchcmd'], io), status, message);
    assert.is(io.err(), `berth: Error response from daemon: ${message}.\n`);
  }
});

t('-i: stdin is sent, then half-closed; the output that follows still arrives', async ({ fake }) => {
  playContainer(fake, { echoStdin: true, exitCode: 2 });
  const io = testIo({ host: fake.host, input: 'line1\nline2\n' });
  assert.is(await main(['run', '-i', '--rm', 'busybox', 'cat'], io), 2);
  assert.is(io.out(), 'stdin:line1\nline2\n');
  const attach = fake.find('POST', `/containers/${ID}/attach`)[0]!;
  assert.is(attach.query.get('stdin'), '1');
  const body = JSON.parse(fake.find('POST', '/containers/create')[0]!.body.toString());
  assert.equal([body.OpenStdin, body.AttachStdin, body.StdinOnce], [true, true, true]);
});

t('create warnings are printed; create prints the id', async ({ fake }) => {
  playContainer(fake, { warnings: ['Your kernel does not support swap limit capabilities'] });
  const io = testIo({ host: fake.host });
  assert.is(await main(['create', '--name', 'x', 'busybox'], io), 0);
  assert.is(io.out(), `${ID}\n`);
  assert.is(io.err(), 'WARNING: Your kernel does not support swap limit capabilities\n');
});

t('signals received while attached are forwarded with kill', async ({ fake }) => {
  const io = testIo({ host: fake.host });
  const killed: string[] = [];
  const container = playContainer(fake, { untilExit: true });
  fake.on('POST', `/containers/${ID}/kill`, (req, res) => {
    killed.push(req.query.get('signal') ?? '');
    res.writeHead(204);
    res.end();
    container.exit(130);
  });
  const pending = main(['run', 'busybox', 'sleep', '100'], io);
  while (!fake.log.includes(`POST /containers/${ID}/start`)) await new Promise((r) => setTimeout(r, 5));
  io.signal('SIGINT');
  assert.is(await pending, 130);
  assert.equal(killed, ['SIGINT']);
  assert.is(io.subscribers(), 0);
});

t('--sig-proxy=false subscribes to no signal', async ({ fake }) => {
  const container = playContainer(fake, { untilExit: true });
  const io = testIo({ host: fake.host });
  const pending = main(['run', '--sig-proxy=false', 'busybox', 'true'], io);
  while (!fake.log.includes(`POST /containers/${ID}/start`)) await new Promise((r) => setTimeout(r, 5));
  assert.is(io.subscribers(), 0);
  container.exit(0);
  assert.is(await pending, 0);
});

t('daemon down: the connection error, exit 125', async ({ fake }) => {
  const io = testIo({ host: `unix://${fake.dir}/nosuch.sock` });
  assert.is(await main(['run', 'busybox'], io), 125);
  assert.is(
    io.err(),
    `berth: Cannot connect to the berth daemon at unix://${fake.dir}/nosuch.sock. Is berthd running?\nSee 'berth run --help'.\n`,
  );
});

t('flag errors: 125 with the usage hint; -it without a terminal on stdin refused as docker does', async ({ fake }) => {
  let io = testIo({ host: fake.host });
  assert.is(await main(['run', '--bogus', 'busybox'], io), 125);
  assert.is(io.err(), "unknown flag: --bogus\nSee 'berth run --help'.\n");
  io = testIo({ host: fake.host });
  assert.is(await main(['run', '-it', 'busybox', 'sh'], io), 1);
  assert.is(io.err(), 'berth: the input device is not a TTY\n');
  io = testIo({ host: fake.host });
  assert.is(await main(['run', '--detach-keys', 'ctrl-', '-i', 'busybox', 'sh'], io), 125);
  assert.match(io.err(), /Invalid detach keys \(ctrl-\) provided/);
  io = testIo({ host: fake.host });
  assert.is(await main(['run'], io), 1);
  assert.match(io.err(), /^"berth run" requires at least 1 argument\.\nSee 'berth run --help'\./);
  assert.equal(fake.requests, [], 'no request for a refused command line');
});

t.run();
