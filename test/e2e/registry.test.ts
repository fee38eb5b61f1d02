import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { daemonSuite, repo, run, TestDaemon } from './harness';
import { hasDockerPy, htpasswdLine, LocalRegistry, RegistryProxy } from './local-registry';

/**
 * Pull, push and login against Debian's reference registry (`/usr/bin/docker-registry`)
 * on loopback, through a proxy that counts requests and injects faults, with the real
 * docker CLI and docker-py talking to berthd.
 */
const test = daemonSuite('registry', 'vfs');
const registry = new LocalRegistry();
const secured = new LocalRegistry();
let proxy: RegistryProxy;
let fresh: TestDaemon | undefined;
let imageId = '';

test.before(async (ctx) => {
  await registry.start();
  await secured.start({ htpasswd: htpasswdLine('trc', 'trcpass') });
  proxy = new RegistryProxy(registry.port);
  await proxy.start();
  imageId = (await ctx.daemon.docker(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim();
  proxy.markConfig('trc/busybox', imageId);
});

test.after(async () => {
  await proxy?.stop();
  await registry.stop();
  await secured.stop();
  if (fresh) {
    const leaks = await fresh.destroy();
    assert.equal(leaks, []);
  }
});

function blobsOf(daemon: TestDaemon): string[] {
  return readdirSync(path.join(daemon.dataRoot, 'blobs', 'sha256'));
}

test('docker push sends each blob once, records the repo digest; a second push sends nothing', async ({ daemon }) => {
  const name = `${proxy.address}/trc/busybox:v1`;
  let r = await daemon.docker(['tag', 'busybox', name]);
  assert.is(r.code, 0, r.stderr);
  r = await daemon.docker(['push', name]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /The push refers to repository \[127\.0\.0\.1:\d+\/trc\/busybox\]/);
  assert.match(r.stdout, /: Pushed/);
  const digest = /v1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(r.stdout)?.[1];
  assert.ok(digest, r.stdout);
  assert.is(proxy.uploads(), 2, JSON.stringify(proxy.seen)); // the layer and the config
  r = await daemon.docker(['image', 'inspect', '-f', '{{json .RepoDigests}}', name]);
  assert.ok(r.stdout.includes(`${proxy.address}/trc/busybox@${digest}`), r.stdout);
  proxy.seen.length = 0;
  r = await daemon.docker(['push', name]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /Layer already exists/);
  assert.is(proxy.uploads(), 0);
});

test("the layer berthd pushed (one gzip member per MiB) is read whole by Go: skopeo decompresses it to the image's diffID", async ({
  daemon,
}) => {
  const name = `${proxy.address}/trc/busybox:v1`;
  const diffId = (await daemon.docker(['image', 'inspect', '-f', '{{index .RootFS.Layers 0}}', name])).stdout.trim();
  const dir = mkdtempSync('/tmp/berth-e2e-skopeo-');
  try {
    const r = await run('skopeo', ['copy', '--src-tls-verify=false', '--dest-decompress', `docker://${name}`, `dir:${dir}`], {});
    assert.is(r.code, 0, r.stderr);
    const layer = readFileSync(path.join(dir, diffId.slice('sha256:'.length)));
    assert.is(`sha256:${createHash('sha256').update(layer).digest('hex')}`, diffId);
    assert.ok(layer.length > 2 << 20, `a layer of ${layer.length} bytes spans several members`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a fresh berthd pulls the image back (Docker progress lines), runs it; pulling again transfers no blob', async () => {
  fresh = new TestDaemon('vfs');
  await fresh.start();
  const name = `${proxy.address}/trc/busybox:v1`;
  proxy.seen.length = 0;
  let r = await fresh.docker(['pull', name]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /v1: Pulling from trc\/busybox/);
  assert.match(r.stdout, /Pull complete/);
  assert.match(r.stdout, /Digest: sha256:[0-9a-f]{64}/);
  assert.match(r.stdout, new RegExp(`Status: Downloaded newer image for ${proxy.address.replace(/\./g, '\\.')}/trc/busybox:v1`));
  r = await fresh.docker(['image', 'inspect', '-f', '{{.Id}} {{json .RepoDigests}}', name]);
  assert.ok(r.stdout.startsWith(imageId), r.stdout);
  assert.match(r.stdout, /trc\/busybox@sha256:/);
  r = await fresh.docker(['run', '--rm', name, 'echo', 'hi from the registry']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.trim(), 'hi from the registry');
  proxy.seen.length = 0;
  r = await fresh.docker(['pull', name]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /Status: Image is up to date/);
  assert.is(proxy.seen.filter((s) => s.method === 'GET' && s.url.includes('/blobs/')).length, 0);
});

test('an unknown tag is Docker\'s "manifest unknown"', async () => {
  const r = await fresh!.docker(['pull', `${proxy.address}/trc/busybox:nope`]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /manifest for 127\.0\.0\.1:\d+\/trc\/busybox:nope not found: manifest unknown/);
});

test("a schema 1 image is refused in Docker 28's words, by docker pull and docker run", async ({ daemon }) => {
  const body = Buffer.from(
    JSON.stringify({ schemaVersion: 1, name: 'old/schema1', tag: '1', architecture: 'amd64', fsLayers: [], history: [] }),
  );
  proxy.cannedManifests.set('/v2/old/schema1/manifests/1', {
    contentType: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
    body,
  });
  try {
    const name = `${proxy.address}/old/schema1:1`;
    const message = `Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of ${name} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/`;
    for (const args of [
      ['pull', name],
      ['run', '--rm', name, 'true'],
    ]) {
      const r = await daemon.docker(args);
      assert.is.not(r.code, 0);
      assert.ok(r.stderr.includes(message), r.stderr);
    }
    const images = await daemon.docker(['images', '-q', name]);
    assert.is(images.stdout.trim(), '');
  } finally {
    proxy.cannedManifests.clear();
  }
});

test('a download cut half-way resumes with a Range request', async () => {
  const name = `${proxy.address}/trc/busybox:v1`;
  let r = await fresh!.docker(['rmi', name]);
  assert.is(r.code, 0, r.stderr);
  proxy.seen.length = 0;
  proxy.blobFault = 'drop-midway';
  r = await fresh!.docker(['pull', name]);
  assert.is(r.code, 0, r.stderr);
  assert.ok(
    proxy.seen.some((s) => s.range?.startsWith('bytes=')),
    JSON.stringify(proxy.seen),
  );
  r = await fresh!.docker(['run', '--rm', name, 'true']);
  assert.is(r.code, 0, r.stderr);
});

test('a blob whose bytes do not match its digest is refused and nothing is kept', async () => {
  const name = `${proxy.address}/trc/busybox:v1`;
  let r = await fresh!.docker(['rmi', name]);
  assert.is(r.code, 0, r.stderr);
  const before = blobsOf(fresh!);
  proxy.blobFault = 'corrupt';
  r = await fresh!.docker(['pull', name]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /verification failed for digest sha256:[0-9a-f]{64}/);
  const kept = blobsOf(fresh!).filter((b) => !before.includes(b) && b !== imageId.slice(7));
  assert.equal(kept, []);
  assert.equal(readdirSync(path.join(fresh!.dataRoot, 'blobs', 'ingest')), []);
  r = await fresh!.docker(['image', 'inspect', name]);
  assert.is(r.code, 1);
});

test('kill -9 during a pull: the next start cleans up, and the pull completes when asked again', async () => {
  const name = `${proxy.address}/trc/busybox:v1`;
  proxy.blobFault = 'stall';
  const served = proxy.faultsServed;
  const pulling = fresh!.docker(['pull', name]);
  // Killed while the layer is half-downloaded: its ingest file is there, the stall served.
  const ingest = path.join(fresh!.dataRoot, 'blobs', 'ingest');
  const deadline = Date.now() + 10_000;
  while (proxy.faultsServed === served || readdirSync(ingest).length === 0) {
    if (Date.now() > deadline) throw new Error('the pull never started writing the layer');
    await new Promise((r) => setTimeout(r, 50));
  }
  await fresh!.kill('SIGKILL');
  await pulling;
  await fresh!.start();
  assert.equal(readdirSync(path.join(fresh!.dataRoot, 'blobs', 'ingest')), []);
  let r = await fresh!.docker(['pull', name]);
  assert.is(r.code, 0, r.stderr);
  r = await fresh!.docker(['run', '--rm', name, 'echo', 'whole']);
  assert.is(r.stdout.trim(), 'whole', r.stderr);
});

test('a push cut short (manifest refused) sends only what is missing when run again; another repository mounts', async ({ daemon }) => {
  let r = await daemon.docker(['run', '--name', 'h2-commit', 'busybox', 'sh', '-c', 'echo layer > /new-file']);
  assert.is(r.code, 0, r.stderr);
  const name = `${proxy.address}/trc/committed:1`;
  r = await daemon.docker(['commit', 'h2-commit', name]);
  assert.is(r.code, 0, r.stderr);
  await daemon.docker(['rm', 'h2-commit']);
  proxy.seen.length = 0;
  proxy.failManifestPut = true;
  r = await daemon.docker(['push', name]);
  assert.is(r.code, 1);
  assert.match(r.stderr + r.stdout, /injected failure/);
  const first = proxy.uploads();
  assert.ok(first >= 2, `first push uploaded ${first}`); // the new layer and the config (busybox's layer was mounted or present)
  proxy.seen.length = 0;
  r = await daemon.docker(['push', name]);
  assert.is(r.code, 0, r.stderr);
  assert.is(proxy.uploads(), 0, JSON.stringify(proxy.seen));
  assert.match(r.stdout, /1: digest: sha256:/);
  // busybox's layer came from trc/busybox on the same registry: mounted, not sent.
  proxy.seen.length = 0;
  r = await daemon.docker(['tag', 'busybox', `${proxy.address}/trc/other:1`]);
  r = await daemon.docker(['push', `${proxy.address}/trc/other:1`]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /Mounted from trc\/busybox/);
  assert.ok(proxy.seen.some((s) => s.method === 'POST' && s.url.includes('mount=')));
});

test('docker login: wrong credentials are a clear 401, right ones log in and push/pull with Basic auth', async ({ daemon }) => {
  let r = await daemon.docker(['login', '-u', 'trc', '--password-stdin', secured.address], 'wrong');
  assert.is(r.code, 1);
  assert.match(r.stderr, /401 Unauthorized/);
  const name = `${secured.address}/trc/busybox:v1`;
  r = await daemon.docker(['tag', 'busybox', name]);
  r = await daemon.docker(['push', name]);
  assert.is(r.code, 1);
  assert.match(r.stderr + r.stdout, /unauthorized|authentication required/, r.stderr + r.stdout);
  r = await daemon.docker(['login', '-u', 'trc', '--password-stdin', secured.address], 'trcpass');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /Login Succeeded/);
  r = await daemon.docker(['push', name]);
  assert.is(r.code, 0, r.stderr + r.stdout);
  r = await daemon.docker(['rmi', name]);
  r = await daemon.docker(['pull', name]);
  assert.is(r.code, 0, r.stderr);
});

test('berth push and berth pull print the progress lines', async ({ daemon }) => {
  const name = `${proxy.address}/trc/berthcli:1`;
  let r = await daemon.berth(['tag', 'busybox', name]);
  assert.is(r.code, 0, r.stderr);
  r = await daemon.berth(['push', name]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /1: digest: sha256:[0-9a-f]{64} size: \d+/);
  r = await fresh!.berth(['pull', name]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /Status: (Downloaded newer image|Image is up to date) for 127\.0\.0\.1:\d+\/trc\/berthcli:1/);
  r = await fresh!.berth(['pull', `${proxy.address}/trc/berthcli:nope`]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /manifest unknown/);
});

test('docker run of an absent image pulls it; --pull never refuses, --pull always pulls first', async () => {
  const name = `${proxy.address}/trc/busybox:v1`;
  await fresh!.docker(['rmi', '-f', name]);
  let r = await fresh!.docker(['run', '--rm', '--pull', 'never', name, 'true']);
  assert.is(r.code, 125);
  assert.match(r.stderr, /No such image/);
  r = await fresh!.docker(['run', '--rm', name, 'echo', 'pulled by run']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /Unable to find image/);
  assert.is(r.stdout.trim(), 'pulled by run');
  r = await fresh!.docker(['run', '--rm', '--pull', 'always', name, 'true']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /Image is up to date/);
  await fresh!.docker(['rmi', '-f', name]);
  r = await fresh!.berth(['run', '--rm', name, 'echo', 'berth pulled it']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /Unable to find image/);
  assert.is(r.stdout.trim(), 'berth pulled it');
  r = await fresh!.berth(['run', '--rm', '--pull', 'always', '-q', name, 'true']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr, '');
});

test('docker pull -a pulls every tag of the repository', async ({ daemon }) => {
  let r = await daemon.docker(['tag', 'busybox', `${proxy.address}/trc/busybox:v2`]);
  r = await daemon.docker(['push', `${proxy.address}/trc/busybox:v2`]);
  assert.is(r.code, 0, r.stderr);
  r = await fresh!.docker(['pull', '-a', `${proxy.address}/trc/busybox`]);
  assert.is(r.code, 0, r.stderr);
  for (const tag of ['v1', 'v2']) {
    r = await fresh!.docker(['image', 'inspect', '-f', '{{.Id}}', `${proxy.address}/trc/busybox:${tag}`]);
    assert.is(r.stdout.trim(), imageId, r.stderr);
  }
});

test('two pulls at once of images sharing a layer download it once', async () => {
  let r = await fresh!.docker(['rmi', '-f', imageId]);
  assert.is(r.code, 0, r.stderr);
  proxy.seen.length = 0;
  const [a, b] = await Promise.all([
    fresh!.docker(['pull', `${proxy.address}/trc/busybox:v1`]),
    fresh!.docker(['pull', `${proxy.address}/trc/busybox:v2`]),
  ]);
  assert.is(a.code, 0, a.stderr);
  assert.is(b.code, 0, b.stderr);
  const layerGets = proxy.seen.filter((s) => s.method === 'GET' && s.url.includes('/blobs/') && !s.url.includes(imageId));
  assert.is(layerGets.length, 1, JSON.stringify(proxy.seen));
  r = await fresh!.docker(['run', '--rm', `${proxy.address}/trc/busybox:v2`, 'true']);
  assert.is(r.code, 0, r.stderr);
});

test('berth login stores credentials in DOCKER_CONFIG, push and pull send them, logout removes them', async ({ daemon }) => {
  const env = { BERTH_HOST: daemon.host, DOCKER_CONFIG: path.join(daemon.dir, 'berth-config') };
  const berth = (args: string[], input?: string) => run(path.join(repo, 'bin/berth'), args, env, input);
  let r = await berth(['login', '-u', 'trc', '--password-stdin', secured.address], 'nope\n');
  assert.is(r.code, 1);
  assert.match(r.stderr, /401 Unauthorized/);
  r = await berth(['login', '-u', 'trc', '--password-stdin', secured.address], 'trcpass\n');
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.trim(), 'Login Succeeded');
  const config = JSON.parse(readFileSync(path.join(env.DOCKER_CONFIG, 'config.json'), 'utf8'));
  assert.is(config.auths[secured.address].auth, Buffer.from('trc:trcpass').toString('base64'));
  const name = `${secured.address}/trc/berth-login:1`;
  r = await berth(['tag', 'busybox', name]);
  r = await berth(['push', name]);
  assert.is(r.code, 0, r.stderr);
  r = await berth(['logout', secured.address]);
  assert.is(r.stdout.trim(), `Removing login credentials for ${secured.address}`);
  r = await berth(['pull', name]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /unauthorized/);
});

test('daemon.json registry-mirrors: a Docker Hub name is pulled from the mirror (max-concurrent-downloads 1)', async ({ daemon }) => {
  let r = await daemon.docker(['tag', 'busybox', `${proxy.address}/library/busybox:mirrored`]);
  r = await daemon.docker(['push', `${proxy.address}/library/busybox:mirrored`]);
  assert.is(r.code, 0, r.stderr);
  const mirrored = new TestDaemon('vfs');
  try {
    const configFile = path.join(mirrored.dir, 'daemon.json');
    writeFileSync(configFile, JSON.stringify({ 'registry-mirrors': [`http://${proxy.address}`], 'max-concurrent-downloads': 1 }));
    await mirrored.start(['--config-file', configFile]);
    proxy.seen.length = 0;
    r = await mirrored.docker(['pull', 'busybox:mirrored']);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, /Status: Downloaded newer image for busybox:mirrored/);
    assert.ok(
      proxy.seen.some((s) => s.url === '/v2/library/busybox/manifests/mirrored'),
      JSON.stringify(proxy.seen),
    );
    r = await mirrored.docker(['image', 'inspect', '-f', '{{json .RepoTags}} {{json .RepoDigests}}', 'busybox:mirrored']);
    assert.match(r.stdout, /\["busybox:mirrored"\] \["busybox@sha256:[0-9a-f]{64}"\]/);
  } finally {
    assert.equal(await mirrored.destroy(), []);
  }
});

test('docker-py login and auth_config against a registry with Basic auth', async ({ daemon }) => {
  const script = `
import docker, sys
c = docker.DockerClient(base_url=sys.argv[1])
repo = sys.argv[2]
auth = {'username': 'trc', 'password': 'trcpass'}
print(c.login(username='trc', password='trcpass', registry=repo.split('/')[0])['Status'])
try:
    c.login(username='trc', password='wrong', registry=repo.split('/')[0], reauth=True)
except docker.errors.APIError as e:
    print('login refused', e.status_code)
c.images.get('busybox').tag(repo, 'authpy')
out = c.images.push(repo, tag='authpy', auth_config=auth)
assert 'digest: sha256:' in out, out
img = c.images.pull(repo, tag='authpy', auth_config=auth)
print(img.tags)
try:
    c.images.pull(repo, tag='authpy', auth_config={'username': 'trc', 'password': 'bad'})
    print('no error')
except docker.errors.APIError as e:
    print('refused', e.status_code)
`;
  const r = await run('python3', ['-c', script, daemon.host, `${secured.address}/trc/authpy`], {});
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /trc\/authpy:authpy/);
  assert.match(r.stdout, /refused 401/);
  assert.match(r.stdout, /Login Succeeded/);
  assert.match(r.stdout, /login refused 401/);
});

test('docker-py images.pull and images.push', async ({ daemon }) => {
  assert.ok(hasDockerPy(), 'docker-py (python3-docker) is needed by this test');
  const script = `
import docker, sys
c = docker.DockerClient(base_url=sys.argv[1])
repo = sys.argv[2]
c.images.get('busybox').tag(repo, 'py')
out = c.images.push(repo, tag='py')
assert 'digest: sha256:' in out, out
img = c.images.pull(repo, tag='py')
print(img.attrs['RepoDigests'])
`;
  const r = await run('python3', ['-c', script, daemon.host, `${proxy.address}/trc/py`], {});
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /trc\/py@sha256:/);
});

test.run();
