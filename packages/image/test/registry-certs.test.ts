import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { isBerthError } from '@berth/core';
import { withTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { endpointFor, RegistryClient, type RegistryEndpoint, readCertsDirectory } from '../src/index.js';

// A registry whose certificate a test CA signed, and which asks for a client certificate:
// berth trusts it through a certs.d directory as dockerd does (`<dir>/<host:port>/ca.crt`,
// `client.cert` + `client.key`), and only then.

const dir = mkdtempSync('/tmp/berth-unit-image-certs-');
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
let server: https.Server;
let port = 0;

function endpoint(certsDir?: string): RegistryEndpoint {
  // Loopback is an insecure registry for endpointFor (as for dockerd); here it is made a verified one.
  return {
    host: `127.0.0.1:${port}`,
    urls: [`https://127.0.0.1:${port}`],
    verifyTls: true,
    mirror: false,
    ...(certsDir ? { certsDir } : {}),
  };
}

async function ping(certsDir?: string): Promise<string> {
  return new RegistryClient({ endpoints: [endpoint(certsDir)] }).ping().then(
    () => 'ok',
    (err: Error) => err.message,
  );
}

test.before(
  withTimeout(30_000, async () => {
    writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '1',
      '-subj',
      '/CN=berth test CA',
    );
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    openssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '1',
      '-extfile',
      'san.ext',
    );
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=berth client');
    openssl(
      'x509',
      '-req',
      '-in',
      'client.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'client.pem',
      '-days',
      '1',
    );
    const read = (name: string) => readFileSync(path.join(dir, name));
    server = https.createServer(
      { key: read('server.key'), cert: read('server.pem'), ca: read('ca.pem'), requestCert: true, rejectUnauthorized: true },
      (_req, res) => {
        res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
        res.end('{}');
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  }),
);

test.after(async () => {
  await new Promise((resolve) => server?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

test('without a certs.d entry the registry`s certificate is refused', async () => {
  assert.match(await ping(), /cannot reach the registry|certificate/i);
  assert.match(await ping(path.join(dir, 'certs.d', 'absent')), /cannot reach the registry|certificate/i);
});

test('the CA alone is not enough for a registry that asks for a client certificate', async () => {
  const host = path.join(dir, 'ca-only', `127.0.0.1:${port}`);
  mkdirSync(host, { recursive: true });
  writeFileSync(path.join(host, 'ca.crt'), readFileSync(path.join(dir, 'ca.pem')));
  assert.is.not(await ping(host), 'ok');
});

test('ca.crt and client.cert + client.key: trusted, and the client certificate is presented', async () => {
  const host = path.join(dir, 'full', `127.0.0.1:${port}`);
  mkdirSync(host, { recursive: true });
  writeFileSync(path.join(host, 'ca.crt'), readFileSync(path.join(dir, 'ca.pem')));
  writeFileSync(path.join(host, 'client.cert'), readFileSync(path.join(dir, 'client.pem')));
  writeFileSync(path.join(host, 'client.key'), readFileSync(path.join(dir, 'client.key')));
  assert.is(await ping(host), 'ok');
  const tls = await readCertsDirectory(host);
  assert.ok(tls && tls.ca.length > 1, 'the system roots stay trusted beside the directory`s CA');
});

test('a key without its certificate, or a certificate without its key, is refused naming the file', async () => {
  const host = path.join(dir, 'half');
  mkdirSync(host, { recursive: true });
  writeFileSync(path.join(host, 'client.key'), 'x');
  let err = await readCertsDirectory(host).catch((e: unknown) => e);
  assert.ok(isBerthError(err, 'InvalidArgument'), String(err));
  assert.match(String(err), /missing client certificate client\.cert for key .*half\/client\.key/);
  rmSync(path.join(host, 'client.key'));
  writeFileSync(path.join(host, 'other.cert'), 'x');
  err = await readCertsDirectory(host).catch((e: unknown) => e);
  assert.match(String(err), /missing key other\.key for client certificate .*half\/other\.cert/);
});

test('endpointFor names a verified registry`s directory under certsDir; an insecure one gets none', () => {
  assert.is(endpointFor('r.example:5000', { certsDir: '/etc/berth/certs.d' }).certsDir, '/etc/berth/certs.d/r.example:5000');
  assert.is(endpointFor('r.example', { certsDir: '/c' }).certsDir, '/c/r.example');
  assert.is(endpointFor('127.0.0.1:5000', { certsDir: '/c' }).certsDir, undefined);
  assert.is(endpointFor('r.example:5000', { certsDir: '/c', insecureRegistries: ['r.example:5000'] }).certsDir, undefined);
  assert.is(endpointFor('r.example:5000', {}).certsDir, undefined);
});

test.run();
