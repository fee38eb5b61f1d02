import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  humanSize,
  isInsecureRegistry,
  MediaTypes,
  parsePlatform,
  parseWwwAuthenticate,
  progressBar,
  registryEndpoints,
  registryErrorMessage,
  runLimited,
  selectManifest,
} from '../src/index.js';

test('WWW-Authenticate: bearer with quoted params, basic, several challenges, escapes', () => {
  assert.equal(
    parseWwwAuthenticate('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'),
    [{ scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } }],
  );
  assert.equal(parseWwwAuthenticate('Basic realm="berth \\"e2e\\""'), [{ scheme: 'basic', params: { realm: 'berth "e2e"' } }]);
  assert.equal(parseWwwAuthenticate(['Basic realm=x', 'Bearer realm="r", error=insufficient_scope']), [
    { scheme: 'basic', params: { realm: 'x' } },
    { scheme: 'bearer', params: { realm: 'r', error: 'insufficient_scope' } },
  ]);
  assert.equal(parseWwwAuthenticate(undefined), []);
});

test('platform: parsing with Docker normalisations, and selection from a manifest list', () => {
  assert.equal(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  assert.equal(parsePlatform('linux/aarch64'), { os: 'linux', architecture: 'arm64' });
  assert.equal(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' });
  assert.equal(parsePlatform('Linux/ARM/7'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.throws(() => parsePlatform('linux/amd64/v1/x'), /invalid platform/);
  const m = (digest: string, platform?: { os: string; architecture: string; variant?: string }) => ({
    mediaType: MediaTypes.ociManifest,
    digest: `sha256:${digest.repeat(64)}` as `sha256:${string}`,
    size: 1,
    ...(platform ? { platform } : {}),
  });
  const list = [
    m('0', { os: 'unknown', architecture: 'unknown' }),
    m('1', { os: 'linux', architecture: 'arm', variant: 'v6' }),
    m('2', { os: 'linux', architecture: 'arm', variant: 'v7' }),
    m('3', { os: 'linux', architecture: 'amd64' }),
    m('4', { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    m('5'),
  ];
  assert.is(selectManifest(list, { os: 'linux', architecture: 'amd64' }).digest[7], '3');
  assert.is(selectManifest(list, { os: 'linux', architecture: 'arm' }).digest[7], '2');
  assert.is(selectManifest(list, parsePlatform('linux/arm/v6')).digest[7], '1');
  assert.is(selectManifest(list, parsePlatform('linux/arm64')).digest[7], '4');
  assert.throws(
    () => selectManifest(list, parsePlatform('linux/s390x')),
    /no matching manifest for linux\/s390x in the manifest list entries/,
  );
});

test('progress: Docker sizes and bars', () => {
  assert.is(humanSize(98), '98B');
  assert.is(humanSize(19968), '19.97kB');
  assert.is(humanSize(1984172), '1.984MB');
  assert.is(progressBar(98, 98), `[${'='.repeat(50)}>]      98B/98B`);
  assert.is(progressBar(19968, 1984172), `[>${' '.repeat(50)}]  19.97kB/1.984MB`);
  assert.is(progressBar(300, 100), `[${'='.repeat(50)}>]     300B/100B`);
});

test('hosts: loopback and listed registries may be plain HTTP; mirrors only for Docker Hub pulls', () => {
  assert.ok(isInsecureRegistry('127.0.0.1:5000', []));
  assert.ok(isInsecureRegistry('localhost:5000', []));
  assert.ok(isInsecureRegistry('[::1]:5000', []));
  assert.not.ok(isInsecureRegistry('registry.example:5000', []));
  assert.ok(isInsecureRegistry('registry.example:5000', ['registry.example:5000']));
  assert.ok(isInsecureRegistry('10.1.2.3:5000', ['10.0.0.0/8']));
  assert.not.ok(isInsecureRegistry('11.1.2.3:5000', ['10.0.0.0/8']));
  assert.equal(registryEndpoints('127.0.0.1:5000', {}, 'pull')[0]!.urls, ['https://127.0.0.1:5000', 'http://127.0.0.1:5000']);
  assert.equal(registryEndpoints('registry.example', {}, 'pull')[0]!.urls, ['https://registry.example']);
  const hub = registryEndpoints('docker.io', { mirrors: ['https://mirror.example/'] }, 'pull');
  assert.equal(
    hub.map((e) => [e.urls[0], e.mirror]),
    [
      ['https://mirror.example', true],
      ['https://registry-1.docker.io', false],
    ],
  );
  assert.is(registryEndpoints('docker.io', { mirrors: ['https://mirror.example'] }, 'push').length, 1);
  assert.throws(() => registryEndpoints('docker.io', { mirrors: ['ftp://x'] }, 'pull'), /invalid registry mirror/);
});

test('registry errors read as Docker prints them', () => {
  const body = Buffer.from('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}');
  assert.is(registryErrorMessage(404, 'Not Found', body), 'manifest unknown: manifest unknown');
  assert.is(registryErrorMessage(401, 'Unauthorized', Buffer.alloc(0)), 'unauthorized: authentication required');
  assert.is(registryErrorMessage(502, 'Bad Gateway', Buffer.from('<html>')), 'unexpected status from the registry: 502 Bad Gateway');
});

test('runLimited: never more than the limit at once, results in order, the first failure after the running ones settle', async () => {
  let running = 0;
  let peak = 0;
  const results = await runLimited([5, 1, 4, 2, 3, 1], 3, async (ms, i) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, ms * 5));
    running--;
    return i;
  });
  assert.equal(results, [0, 1, 2, 3, 4, 5]);
  assert.is(peak, 3);
  let settled = 0;
  const failed = await runLimited([1, 2, 3], 2, async (n) => {
    if (n === 1) throw new Error('first');
    await new Promise((r) => setTimeout(r, 20));
    settled++;
    return n;
  }).catch((err: Error) => err);
  assert.is((failed as Error).message, 'first');
  assert.is(settled, 1, 'the running one settled, nothing new started');
});

test.run();
