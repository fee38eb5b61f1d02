import { execFileSync } from 'node:child_process';
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
