import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { FakeDaemon, sendError, sendJson } from '@berth/client/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../src/main.js';
import { testIo } from './helpers.js';

const t = suite<{ fake: FakeDaemon; dir: string }>('pull, push, login, logout');

t.before.each(async (ctx) => {
  ctx.fake = await FakeDaemon.start('berth-unit-cli');
  ctx.dir = mkdtempSync('/tmp/berth-unit-cli-login-');
});

t.after.each(async (ctx) => {
  try {
    await ctx.fake.close();
  } finally {
    rmSync(ctx.dir, { recursive: true, force: true });
  }
});

function progress(res: import('node:http').ServerResponse, lines: unknown[]): void {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
}

t('pull: default tag, progress lines, the full reference last; stored credentials go as X-Registry-Auth', async ({ fake, dir }) => {
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ auths: { '127.0.0.1:5000': { auth: Buffer.from('trc:pw').toString('base64') } } }),
  );
  fake.on('POST', '/images/create', (_req, res) =>
    progress(res, [
      { status: 'Pulling from trc/x', id: 'latest' },
      { status: 'Status: Downloaded newer image for 127.0.0.1:5000/trc/x:latest' },
    ]),
  );
  const io = testIo({ host: fake.host, env: { DOCKER_CONFIG: dir } });
  assert.is(await main(['pull', '127.0.0.1:5000/trc/x'], io), 0, io.err());
  assert.is(
    io.out(),
    'Using default tag: latest\nlatest: Pulling from trc/x\nStatus: Downloaded newer image for 127.0.0.1:5000/trc/x:latest\n127.0.0.1:5000/trc/x:latest\n',
  );
  const req = fake.find('POST', '/images/create')[0]!;
  assert.is(req.query.get('fromImage'), '127.0.0.1:5000/trc/x');
  assert.is(req.query.get('tag'), 'latest');
  const auth = JSON.parse(Buffer.from(String(req.headers['x-registry-auth']), 'base64url').toString());
  assert.equal(auth, { serveraddress: '127.0.0.1:5000', username: 'trc', password: 'pw' });
  // -a sends no tag; a digest travels as the tag.
  await main(['pull', '-a', 'busybox'], testIo({ host: fake.host, env: { DOCKER_CONFIG: dir } }));
  assert.is(fake.find('POST', '/images/create')[1]!.query.get('tag'), null);
  await main(['pull', `busybox@sha256:${'a'.repeat(64)}`], testIo({ host: fake.host, env: { DOCKER_CONFIG: dir } }));
  assert.is(fake.find('POST', '/images/create')[2]!.query.get('tag'), `sha256:${'a'.repeat(64)}`);
  assert.is(fake.find('POST', '/images/create')[2]!.headers['x-registry-auth'], undefined, 'no credentials stored for Docker Hub');
});

t('pull and push: an error in the stream exits 1 with the message', async ({ fake, dir }) => {
  fake.on('POST', '/images/create', (_req, res) =>
    progress(res, [
      { status: 'Pulling from trc/x', id: '1' },
      { errorDetail: { message: 'connection reset' }, error: 'connection reset' },
    ]),
  );
  fake.on('POST', /^\/images\/.+\/push$/, (_req, res) =>
    progress(res, [{ status: 'The push refers to repository [docker.io/trc/x]' }, { errorDetail: { message: 'denied' }, error: 'denied' }]),
  );
  let io = testIo({ host: fake.host, env: { DOCKER_CONFIG: dir } });
  assert.is(await main(['pull', 'trc/x:1'], io), 1);
  assert.match(io.err(), /connection reset/);
  io = testIo({ host: fake.host, env: { DOCKER_CONFIG: dir } });
  assert.is(await main(['push', 'trc/x'], io), 1);
  assert.match(io.out(), /^Using default tag: latest\nThe push refers to repository/);
  assert.match(io.err(), /denied/);
  assert.is(fake.find('POST', '/images/trc/x/push')[0]!.query.get('tag'), 'latest');
});

t('login: --password-stdin, checked by the daemon, stored; logout removes it', async ({ fake, dir }) => {
  fake.on('POST', '/auth', (req, res) => {
    const body = JSON.parse(req.body.toString());
    if (body.password !== 'right')
      return sendError(res, 401, `login attempt to http://${body.serveraddress}/v2/ failed with status: 401 Unauthorized`);
    sendJson(res, 200, { IdentityToken: '', Status: 'Login Succeeded' });
  });
  let io = testIo({ host: fake.host, env: { DOCKER_CONFIG: dir }, input: 'wrong\n' });
  assert.is(await main(['login', '-u', 'trc', '--password-stdin', '127.0.0.1:5000'], io), 1);
  assert.match(io.err(), /401 Unauthorized/);
  io = testIo({ host: fake.host, env: { DOCKER_CONFIG: dir }, input: 'right\n' });
  assert.is(await main(['login', '-u', 'trc', '--password-stdin', 'http://127.0.0.1:5000/'], io), 0, io.err());
  assert.is(io.out(), 'Login Succeeded\n');
  assert.equal(
    fake.find('POST', '/auth').map((r) => JSON.parse(r.body.toString())),
    [
      { username: 'trc', password: 'wrong', serveraddress: '127.0.0.1:5000' },
      { username: 'trc', password: 'right', serveraddress: '127.0.0.1:5000' },
    ],
  );
  const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
  assert.equal(config, { auths: { '127.0.0.1:5000': { auth: Buffer.from('trc:right').toString('base64') } } });
  // Without -u on no terminal: docker's refusal, unless something is stored (then it is tried).
  io = testIo({ host: fake.host, env: { DOCKER_CONFIG: dir } });
  assert.is(await main(['login', 'r.example'], io), 1);
  assert.match(io.err(), /Cannot perform an interactive login from a non TTY device/);
  io = testIo({ host: fake.host, env: { DOCKER_CONFIG: dir } });
  assert.is(await main(['login', '127.0.0.1:5000'], io), 0, io.err());
  io = testIo({ host: fake.host, env: { DOCKER_CONFIG: dir } });
  assert.is(await main(['logout', '127.0.0.1:5000'], io), 0);
  assert.is(io.out(), 'Removing login credentials for 127.0.0.1:5000\n');
  io = testIo({ host: fake.host, env: { DOCKER_CONFIG: dir } });
  await main(['logout', '127.0.0.1:5000'], io);
  assert.is(io.out(), 'Not logged in to 127.0.0.1:5000\n');
});

t.run();
