import { writeFileSync } from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { Htpasswd, parseScope, TokenIssuer } from '@berth/registry';
import { selfSignedCertificate } from '@berth/testkit/registry';
import { suiteTimeout } from '@berth/testkit/timeout';
import bcrypt from 'bcryptjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { errorCode, tempDir, withRegistry } from './support.js';

// bcrypt and RSA key generation: seconds on a loaded 2-core machine, not the default 5.
suiteTimeout(test, 20_000);

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** An htpasswd file as `htpasswd -B` writes it ($2y$ entries). */
function writeHtpasswd(dir: string): string {
  const file = path.join(dir, 'htpasswd');
  const hash = bcrypt.hashSync('s3cret', 5).replace(/^\$2b\$/, '$2y$');
  writeFileSync(file, `# users\nalice:${hash}\n`);
  return file;
}

test('htpasswd: bcrypt entries ($2y$ as htpasswd -B writes them) verify; other hash kinds are refused naming the line', async () => {
  const users = Htpasswd.parse(`alice:${bcrypt.hashSync('pw', 4).replace('$2b$', '$2y$')}\n`);
  assert.ok(await users.verify('alice', 'pw'));
  assert.ok(await users.verify('alice', 'pw'), 'the remembered check');
  assert.not.ok(await users.verify('alice', 'wrong'));
  assert.not.ok(await users.verify('bob', 'pw'));
  assert.throws(() => Htpasswd.parse('bob:$apr1$abc$def\n', 'users'), /users:1: the entry of "bob" is not a bcrypt hash/);
  assert.throws(() => Htpasswd.parse('nocolon\n', 'users'), /users:1: not a "user:hash" entry/);
});

test('basic auth: 401 UNAUTHORIZED with a Basic challenge without or with wrong credentials; the user gets in', async () => {
  const { dir, cleanup } = tempDir('basic-users');
  try {
    const htpasswd = writeHtpasswd(dir);
    await withRegistry(
      'basic',
      async ({ url }) => {
        const anon = await fetch(`${url}/v2/`);
        assert.is(anon.status, 401);
        assert.is(anon.headers.get('www-authenticate'), 'Basic realm="berth-registry"');
        assert.is(await errorCode(anon), 'UNAUTHORIZED');
        assert.is((await fetch(`${url}/v2/`, { headers: { Authorization: basic('alice', 'nope') } })).status, 401);
        const ok = await fetch(`${url}/v2/`, { headers: { Authorization: basic('alice', 's3cret') } });
        assert.is(ok.status, 200);
        const put = await fetch(`${url}/v2/x/blobs/uploads/`, { method: 'POST', headers: { Authorization: basic('alice', 's3cret') } });
        assert.is(put.status, 202);
      },
      { htpasswd },
    );
  } finally {
    cleanup();
  }
});

test('token auth: challenge names realm, service and scope; the token endpoint checks credentials and grants scopes per repository', async () => {
  const { dir, cleanup } = tempDir('token-users');
  try {
    const htpasswd = writeHtpasswd(dir);
    await withRegistry(
      'token',
      async ({ url }) => {
        const anon = await fetch(`${url}/v2/lib/app/tags/list`);
        assert.is(anon.status, 401);
        const challenge = anon.headers.get('www-authenticate')!;
        const host = new URL(url).host;
        assert.is(challenge, `Bearer realm="http://${host}/token",service="berth-registry",scope="repository:lib/app:pull"`);
        assert.is((await fetch(`${url}/token?service=berth-registry&scope=repository:lib/app:pull`)).status, 401);
        assert.is(
          (await fetch(`${url}/token?scope=repository:lib/app:pull`, { headers: { Authorization: basic('alice', 'bad') } })).status,
          401,
        );
        const tokenRes = await fetch(`${url}/token?service=berth-registry&scope=repository:lib/app:pull`, {
          headers: { Authorization: basic('alice', 's3cret') },
        });
        assert.is(tokenRes.status, 200);
        const { token, expires_in } = (await tokenRes.json()) as { token: string; expires_in: number };
        assert.is(expires_in, 300);
        const bearer = { Authorization: `Bearer ${token}` };
        // Pull was granted for lib/app: reading is allowed (the repository is unknown: 404, past auth).
        assert.is(await errorCode(await fetch(`${url}/v2/lib/app/tags/list`, { headers: bearer })), 'NAME_UNKNOWN');
        // ...but not for another repository, nor push on this one.
        const other = await fetch(`${url}/v2/lib/other/tags/list`, { headers: bearer });
        assert.is(other.status, 401);
        const push = await fetch(`${url}/v2/lib/app/blobs/uploads/`, { method: 'POST', headers: bearer });
        assert.is(push.status, 401);
        assert.match(push.headers.get('www-authenticate')!, /scope="repository:lib\/app:pull,push",error="insufficient_scope"/);
        const pushToken = (await (
          await fetch(`${url}/token?service=berth-registry&scope=repository:lib/app:pull,push`, {
            headers: { Authorization: basic('alice', 's3cret') },
          })
        ).json()) as { token: string };
        const started = await fetch(`${url}/v2/lib/app/blobs/uploads/`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${pushToken.token}` },
        });
        assert.is(started.status, 202);
        // A forged token (signature of another key) is refused.
        const forged = new TokenIssuer(Buffer.alloc(32, 7), 'berth-registry', 'berth-registry', 60).issue('mallory', [
          parseScope('repository:lib/app:*')!,
        ]);
        assert.is((await fetch(`${url}/v2/lib/app/tags/list`, { headers: { Authorization: `Bearer ${forged.token}` } })).status, 401);
        assert.is((await fetch(`${url}/v2/_catalog`, { headers: bearer })).status, 401);
      },
      { htpasswd, token: {} },
    );
  } finally {
    cleanup();
  }
});

test('tokens: expired and other-service tokens are refused; scopes parse with colons in the name', () => {
  const issuer = new TokenIssuer(Buffer.alloc(32, 1), 'berth-registry', 'svc', 60);
  const { token } = issuer.issue('alice', [], 1_000_000);
  assert.ok(issuer.verify(token, 1_000_000 + 59_000));
  assert.is(issuer.verify(token, 1_000_000 + 61_000), undefined);
  assert.is(new TokenIssuer(Buffer.alloc(32, 1), 'berth-registry', 'other', 60).verify(token, 1_000_000), undefined);
  assert.equal(parseScope('repository:host:5000/app:pull,push'), { type: 'repository', name: 'host:5000/app', actions: ['pull', 'push'] });
  assert.is(parseScope('nonsense'), undefined);
});

test('TLS: serves HTTPS with the given certificate and key', async () => {
  const { dir, cleanup } = tempDir('tls-files');
  try {
    const { cert, key } = selfSignedCertificate(dir, 'tls', { cn: '127.0.0.1', ip: '127.0.0.1' });
    await withRegistry(
      'tls',
      async ({ url }) => {
        assert.match(url, /^https:/);
        const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          https
            .get(`${url}/v2/`, { ca: require('node:fs').readFileSync(cert) }, (res) => {
              let body = '';
              res.on('data', (d) => (body += d));
              res.on('end', () => resolve({ status: res.statusCode!, body }));
            })
            .on('error', reject);
        });
        assert.is(status, 200);
        assert.is(body, '{}');
      },
      { tlsCert: cert, tlsKey: key },
    );
  } finally {
    cleanup();
  }
});

test('the token key is shared through the root: a token from one server is good on another over the same root', async () => {
  const { dir, cleanup } = tempDir('token-shared');
  try {
    const htpasswd = writeHtpasswd(dir);
    const root = path.join(dir, 'root');
    let token = '';
    await withRegistry(
      'token-a',
      async ({ url }) => {
        const res = await fetch(`${url}/token?scope=repository:s:pull,push`, { headers: { Authorization: basic('alice', 's3cret') } });
        token = ((await res.json()) as { token: string }).token;
      },
      { htpasswd, token: {}, root },
    );
    await withRegistry(
      'token-b',
      async ({ url }) => {
        assert.is(await errorCode(await fetch(`${url}/v2/s/tags/list`, { headers: { Authorization: `Bearer ${token}` } })), 'NAME_UNKNOWN');
      },
      { htpasswd, token: {}, root },
    );
  } finally {
    cleanup();
  }
});

test.run();
