import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { htpasswdLine, selfSignedCertificate } from '@berth/testkit/registry';
import { suiteTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BERTH_CLI, BUSYBOX, binEnv, type Started, skopeo, startBerthRegistry, startReferenceRegistry, suiteDir } from './support.js';

// Real clients against bin/berth-registry: Debian's skopeo (containers/image), and
// copies to and from Debian's reference registry (docker/distribution). Needs `npm run build`.

suiteTimeout(test, 90_000);

interface Inspect {
  Digest: string;
  RepoTags: string[];
  Layers: string[];
}

test('skopeo: copy a docker-archive in, inspect, list-tags, copy back out, delete', async () => {
  const { dir, cleanup } = suiteDir();
  let berth: Started | undefined;
  try {
    berth = await startBerthRegistry(path.join(dir, 'root'));
    const ref = `docker://${berth.host}/library/busybox`;
    await skopeo(dir, ['copy', '--dest-tls-verify=false', `docker-archive:${BUSYBOX}`, `${ref}:1.0`]);
    await skopeo(dir, ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `${ref}:1.0`, `${ref}:latest`]);
    const inspect = JSON.parse(await skopeo(dir, ['inspect', '--tls-verify=false', `${ref}:1.0`])) as Inspect;
    assert.match(inspect.Digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(inspect.RepoTags.sort(), ['1.0', 'latest']);
    assert.is(inspect.Layers.length, 1);
    const tags = JSON.parse(await skopeo(dir, ['list-tags', '--tls-verify=false', ref])) as { Tags: string[] };
    assert.equal(tags.Tags.sort(), ['1.0', 'latest']);
    // Back out to an archive, and the raw manifest is what berth stored (Content-Type and digest kept).
    await skopeo(dir, ['copy', '--src-tls-verify=false', `${ref}:1.0`, `docker-archive:${path.join(dir, 'out.tar')}:busybox:out`]);
    const listing = execFileSync('tar', ['-tf', path.join(dir, 'out.tar')], { encoding: 'utf8' });
    assert.match(listing, /manifest\.json/);
    const raw = await skopeo(dir, ['inspect', '--raw', '--tls-verify=false', `${ref}:1.0`]);
    const res = await fetch(`${berth.url}/v2/library/busybox/manifests/1.0`);
    assert.is(await res.text(), raw);
    assert.is(res.headers.get('docker-content-digest'), inspect.Digest);
    await skopeo(dir, ['delete', '--tls-verify=false', `${ref}:1.0`]);
    // The manifest is gone, and with it both tags that pointed at it.
    const after = JSON.parse(await skopeo(dir, ['list-tags', '--tls-verify=false', ref])) as { Tags: string[] };
    assert.equal(after.Tags, []);
    await assert.not.ok(
      await skopeo(dir, ['inspect', '--tls-verify=false', `${ref}:latest`]).then(
        () => true,
        () => false,
      ),
    );
  } finally {
    await berth?.stop();
    cleanup();
  }
});

test('skopeo copies between berth and the reference docker-registry, both ways, and the digests agree', async () => {
  const { dir, cleanup } = suiteDir();
  let berth: Started | undefined;
  let reference: Started | undefined;
  try {
    [berth, reference] = await Promise.all([startBerthRegistry(path.join(dir, 'root')), startReferenceRegistry()]);
    const insecure = ['--src-tls-verify=false', '--dest-tls-verify=false'];
    await skopeo(dir, ['copy', '--dest-tls-verify=false', `docker-archive:${BUSYBOX}`, `docker://${reference.host}/origin/busybox:v1`]);
    await skopeo(dir, ['copy', ...insecure, `docker://${reference.host}/origin/busybox:v1`, `docker://${berth.host}/mirror/busybox:v1`]);
    await skopeo(dir, ['copy', ...insecure, `docker://${berth.host}/mirror/busybox:v1`, `docker://${reference.host}/back/busybox:v1`]);
    const digests = await Promise.all(
      [`${reference.host}/origin/busybox:v1`, `${berth.host}/mirror/busybox:v1`, `${reference.host}/back/busybox:v1`].map(
        async (r) => (JSON.parse(await skopeo(dir, ['inspect', '--tls-verify=false', `docker://${r}`])) as Inspect).Digest,
      ),
    );
    assert.is(digests[1], digests[0], 'berth kept the manifest byte for byte');
    assert.is(digests[2], digests[0]);
    // An OCI image (skopeo converts to OCI on --format oci) round-trips too, with its media type.
    await skopeo(dir, [
      'copy',
      ...insecure,
      '--format',
      'oci',
      `docker://${reference.host}/origin/busybox:v1`,
      `docker://${berth.host}/oci/busybox:v1`,
    ]);
    const res = await fetch(`${berth.url}/v2/oci/busybox/manifests/v1`, { method: 'HEAD' });
    assert.is(res.headers.get('content-type'), 'application/vnd.oci.image.manifest.v1+json');
    await skopeo(dir, ['copy', ...insecure, `docker://${berth.host}/oci/busybox:v1`, `docker://${reference.host}/oci/busybox:v1`]);
    const refHead = await fetch(`${reference.url}/v2/oci/busybox/manifests/v1`, {
      method: 'HEAD',
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.is(refHead.headers.get('docker-content-digest'), res.headers.get('docker-content-digest'));
  } finally {
    await Promise.all([berth?.stop(), reference?.stop()]);
    cleanup();
  }
});

const S2 = 'application/vnd.docker.distribution.manifest.v2+json';
const LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';

/** Pushes a config blob and manifests of every kind to `url` by the plain API (POST, then PUT ?digest=); returns the digests. */
async function pushManifestKinds(url: string): Promise<Record<string, string>> {
  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const start = await fetch(`${url}/v2/n/blobs/uploads/`, { method: 'POST' });
  const location = new URL(start.headers.get('location')!, url);
  location.searchParams.set('digest', sha(config));
  assert.is((await fetch(location, { method: 'PUT', body: config, headers: { 'Content-Type': 'application/octet-stream' } })).status, 201);
  const digests: Record<string, string> = {};
  const put = async (tag: string, type: string, doc: unknown) => {
    const body = Buffer.from(JSON.stringify(doc));
    const res = await fetch(`${url}/v2/n/manifests/${tag}`, { method: 'PUT', body, headers: { 'Content-Type': type } });
    assert.is(res.status, 201, `${tag}: ${await res.text()}`);
    digests[tag] = sha(body);
    return body;
  };
  const image = (type: string, configType: string) => ({
    schemaVersion: 2,
    mediaType: type,
    config: { mediaType: configType, size: config.length, digest: sha(config) },
    layers: [],
  });
  const s2 = await put('s2', S2, image(S2, 'application/vnd.docker.container.image.v1+json'));
  const oci = await put('oci', OCI, image(OCI, 'application/vnd.oci.image.config.v1+json'));
  const list = (type: string, child: Buffer, childType: string, architecture: string) => ({
    schemaVersion: 2,
    mediaType: type,
    manifests: [{ mediaType: childType, size: child.length, digest: sha(child), platform: { architecture, os: 'linux' } }],
  });
  await put('list', LIST, list(LIST, s2, S2, 'amd64'));
  await put('armlist', LIST, list(LIST, s2, S2, 'arm64'));
  await put('index', INDEX, list(INDEX, oci, OCI, 'amd64'));
  return digests;
}

test('manifests negotiated by Accept as the reference registry does: the same status, type, digest and error code', async () => {
  const { dir, cleanup } = suiteDir();
  let berth: Started | undefined;
  let reference: Started | undefined;
  try {
    [berth, reference] = await Promise.all([startBerthRegistry(path.join(dir, 'root')), startReferenceRegistry()]);
    const [berthDigests, referenceDigests] = await Promise.all([pushManifestKinds(berth.url), pushManifestKinds(reference.url)]);
    assert.equal(berthDigests, referenceDigests);
    const ask = async (url: string, reference: string, accept: string) => {
      const res = await fetch(`${url}/v2/n/manifests/${reference}`, { headers: { Accept: accept } });
      const body = await res.text();
      const code = res.status >= 400 ? (JSON.parse(body) as { errors: Array<{ code: string }> }).errors[0]!.code : undefined;
      const type = res.status < 400 ? res.headers.get('content-type') : undefined;
      return { status: res.status, type, digest: res.headers.get('docker-content-digest') ?? undefined, code };
    };
    // Cases where the two agree by design; berth's README lists where they differ (no
    // Accept or a wildcard; schema 2 not accepted, which 2.8 still tries to turn into schema 1).
    const cases: Array<[string, string]> = [
      ['s2', `${S2}, ${OCI}`],
      ['oci', S2],
      ['oci', `${LIST}, ${INDEX}`],
      ['oci', `${S2}, ${OCI}`],
      [berthDigests.oci!, S2],
      ['index', `${S2}, ${LIST}, ${OCI}`],
      ['index', INDEX],
      ['list', LIST],
      ['list', S2],
      ['list', `${S2};q=0.5, ${OCI}`],
      ['armlist', S2],
      [berthDigests.list!, S2],
      ['missing', S2],
    ];
    for (const [ref, accept] of cases) {
      const [ours, theirs] = await Promise.all([ask(berth.url, ref, accept), ask(reference.url, ref, accept)]);
      assert.equal(ours, theirs, `GET ${ref} with Accept: ${accept}`);
    }
  } finally {
    await Promise.all([berth?.stop(), reference?.stop()]);
    cleanup();
  }
});

test('skopeo against token authentication over TLS: it follows the challenge, logs in with htpasswd credentials, pushes and pulls', async () => {
  const { dir, cleanup } = suiteDir();
  let berth: Started | undefined;
  try {
    const htpasswd = path.join(dir, 'htpasswd');
    writeFileSync(htpasswd, `${htpasswdLine('alice', 'pw-alice', 5)}\n`);
    const { cert, key } = selfSignedCertificate(dir, 'tls', { cn: '127.0.0.1', ip: '127.0.0.1' });
    berth = await startBerthRegistry(path.join(dir, 'root'), [
      '--htpasswd',
      htpasswd,
      '--token-auth',
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ]);
    assert.match(berth.url, /^https:/);
    const ref = `docker://${berth.host}/private/busybox:v1`;
    const refused = await skopeo(dir, ['copy', '--dest-tls-verify=false', `docker-archive:${BUSYBOX}`, ref]).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    assert.match(refused, /unauthorized|authentication required/i);
    await skopeo(dir, ['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:pw-alice', `docker-archive:${BUSYBOX}`, ref]);
    const inspect = JSON.parse(await skopeo(dir, ['inspect', '--tls-verify=false', '--creds', 'alice:pw-alice', ref])) as Inspect;
    assert.equal(inspect.RepoTags, ['v1']);
    const wrong = await skopeo(dir, ['inspect', '--tls-verify=false', '--creds', 'alice:nope', ref]).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    assert.match(wrong, /unauthorized|authentication/i);
  } finally {
    await berth?.stop();
    cleanup();
  }
});

test('bin/berth registry serve (the CLI bundle) serves skopeo; bin/berth registry gc collects what skopeo deleted', async () => {
  const { dir, cleanup } = suiteDir();
  let berth: Started | undefined;
  try {
    const root = path.join(dir, 'root');
    berth = await startBerthRegistry(root, [], 'cli');
    const ref = `docker://${berth.host}/cli/busybox:v1`;
    await skopeo(dir, ['copy', '--dest-tls-verify=false', `docker-archive:${BUSYBOX}`, ref]);
    await skopeo(dir, ['delete', '--tls-verify=false', ref]);
    // While it serves: the collection is safe alongside, and nothing is referenced any more.
    const out = execFileSync(BERTH_CLI, ['registry', 'gc', '--root', root, '--grace', '0s'], { encoding: 'utf8', env: binEnv() });
    assert.match(out, /marked 0 blob\(s\) from 0 manifest\(s\)/);
    assert.match(out, /deleted 3 blob\(s\)/);
    assert.is((await fetch(`${berth.url}/v2/`)).status, 200);
  } finally {
    await berth?.stop();
    cleanup();
  }
});

test.run();
