import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CredentialStore, credentialServerFor, normalizeServerAddress, registryAuthHeader } from '../src/registry/credential-store.js';
import { ProgressDisplay } from '../src/registry/progress-display.js';

function tempDir(): string {
  return mkdtempSync('/tmp/berth-unit-cli-registry-');
}

test('server names: Docker Hub key for familiar names, host[:port] otherwise', () => {
  assert.is(credentialServerFor('busybox'), 'https://index.docker.io/v1/');
  assert.is(credentialServerFor('trc/busybox:1'), 'https://index.docker.io/v1/');
  assert.is(credentialServerFor('docker.io/trc/busybox'), 'https://index.docker.io/v1/');
  assert.is(credentialServerFor('127.0.0.1:5000/trc/busybox:1'), '127.0.0.1:5000');
  assert.is(credentialServerFor('localhost/x'), 'localhost');
  assert.is(normalizeServerAddress(undefined), 'https://index.docker.io/v1/');
  assert.is(normalizeServerAddress('http://127.0.0.1:5000/v2/'), '127.0.0.1:5000');
});

test('config.json: store writes auths.<server>.auth (mode 0600, other keys kept), get reads it, erase removes it', () => {
  const dir = tempDir();
  try {
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ psFormat: 'table {{.ID}}' }));
    const store = new CredentialStore({ DOCKER_CONFIG: dir });
    assert.is(store.get('127.0.0.1:5000'), undefined);
    store.store({ username: 'trc', password: 'trc:pass', serveraddress: '127.0.0.1:5000' });
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.equal(config, {
      psFormat: 'table {{.ID}}',
      auths: { '127.0.0.1:5000': { auth: Buffer.from('trc:trc:pass').toString('base64') } },
    });
    assert.is(statSync(path.join(dir, 'config.json')).mode & 0o777, 0o600);
    assert.equal(store.get('127.0.0.1:5000'), { username: 'trc', password: 'trc:pass', serveraddress: '127.0.0.1:5000' });
    const header = JSON.parse(Buffer.from(registryAuthHeader(store.get('127.0.0.1:5000'))!, 'base64url').toString());
    assert.equal(header, { serveraddress: '127.0.0.1:5000', username: 'trc', password: 'trc:pass' });
    assert.ok(store.erase('127.0.0.1:5000'));
    assert.not.ok(store.erase('127.0.0.1:5000'));
    assert.is(store.get('127.0.0.1:5000'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('credential helpers: credHelpers and credsStore speak get/store/erase to docker-credential-<name>', () => {
  const dir = tempDir();
  const savedPath = process.env.PATH;
  try {
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    const db = path.join(dir, 'helper-db');
    // A real helper program: keeps one JSON file per server, as the protocol describes.
    writeFileSync(
      path.join(bin, 'docker-credential-berthtest'),
      `#!/bin/sh
set -e
db=${db}
mkdir -p "$db"
case "$1" in
  store) input=$(cat); server=$(printf '%s' "$input" | sed 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/'); printf '%s' "$input" > "$db/$(printf '%s' "$server" | tr '/:' '__')";;
  get) server=$(cat); f="$db/$(printf '%s' "$server" | tr '/:' '__')"; if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi;;
  erase) server=$(cat); f="$db/$(printf '%s' "$server" | tr '/:' '__')"; [ -f "$f" ] || { echo "credentials not found in native keychain"; exit 1; }; rm "$f";;
esac
`,
    );
    chmodSync(path.join(bin, 'docker-credential-berthtest'), 0o755);
    process.env.PATH = `${bin}:${savedPath}`;
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ credHelpers: { 'r.example:5000': 'berthtest' } }));
    const store = new CredentialStore({ DOCKER_CONFIG: dir });
    store.store({ username: 'u', password: 'p', serveraddress: 'r.example:5000' });
    assert.equal(store.get('r.example:5000'), { username: 'u', password: 'p', serveraddress: 'r.example:5000' });
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.equal(config.auths, { 'r.example:5000': {} }, 'no secret in the file');
    assert.ok(store.erase('r.example:5000'));
    assert.is(store.get('r.example:5000'), undefined);
    // credsStore covers every server without its own helper.
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ credsStore: 'berthtest' }));
    store.store({ username: 'hub', password: 'pw', serveraddress: 'https://index.docker.io/v1/' });
    assert.is(store.get('https://index.docker.io/v1/')?.username, 'hub');
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ credsStore: 'missinghelper' }));
    assert.throws(() => store.get('x.example'), /docker-credential-missinghelper/);
  } finally {
    process.env.PATH = savedPath;
    rmSync(dir, { recursive: true, force: true });
  }
});

function capture(isTTY: boolean): { out: PassThrough & { isTTY?: boolean }; text(): string } {
  const out = new PassThrough() as PassThrough & { isTTY?: boolean };
  out.isTTY = isTTY;
  let text = '';
  out.on('data', (d) => (text += d));
  return { out, text: () => text };
}

test('progress: plain lines when piped; on a terminal each layer keeps its line, rewritten in place', async () => {
  const plain = capture(false);
  const piped = new ProgressDisplay(plain.out);
  piped.show({ status: 'Pulling from trc/x', id: '1' });
  piped.show({ status: 'Downloading', id: 'abc', progress: '[=>  ] 1B/2B' });
  await new Promise((r) => setImmediate(r));
  assert.is(plain.text(), '1: Pulling from trc/x\nabc: Downloading [=>  ] 1B/2B\n');
  const term = capture(true);
  const display = new ProgressDisplay(term.out);
  display.show({ status: 'Pulling fs layer', id: 'aaa' });
  display.show({ status: 'Pulling fs layer', id: 'bbb' });
  display.show({ status: 'Pull complete', id: 'aaa' });
  await new Promise((r) => setImmediate(r));
  assert.is(term.text(), '\x1b[2K\raaa: Pulling fs layer\n\x1b[2K\rbbb: Pulling fs layer\n\x1b[2A\x1b[2K\raaa: Pull complete\r\x1b[2B');
});

test.run();
