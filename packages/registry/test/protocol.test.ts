import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import { suiteTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DOCKER_LIST,
  DOCKER_MANIFEST,
  errorCode,
  imageManifest,
  OCI_INDEX,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  sha256,
  withRegistry,
} from './support.js';

// Loopback transfers of MiBs: seconds on a loaded 2-core machine, not the default 5.
suiteTimeout(test, 20_000);

test('GET /v2/ answers 200 {} with the API version header', () =>
  withRegistry('base', async ({ url }) => {
    const res = await fetch(`${url}/v2/`);
    assert.is(res.status, 200);
    assert.is(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.equal(await res.json(), {});
  }));

test('a chunked upload: POST, PATCH in order, status, PUT with the digest; the blob is served whole and by range', () =>
  withRegistry('chunked', async ({ url }) => {
    const data = randomBytes(300_000);
    const start = await fetch(`${url}/v2/a/b/blobs/uploads/`, { method: 'POST' });
    assert.is(start.status, 202);
    const location = start.headers.get('location')!;
    assert.match(location, /^\/v2\/a\/b\/blobs\/uploads\/[0-9a-f-]{36}$/);
    assert.ok(start.headers.get('docker-upload-uuid'));
    const first = await fetch(`${url}${location}`, {
      method: 'PATCH',
      body: data.subarray(0, 100_000),
      headers: { 'Content-Range': '0-99999', 'Content-Type': 'application/octet-stream' },
    });
    assert.is(first.status, 202);
    assert.is(first.headers.get('range'), '0-99999');
    // Out of order: the next chunk must start at 100000.
    const skipped = await fetch(`${url}${location}`, {
      method: 'PATCH',
      body: data.subarray(200_000),
      headers: { 'Content-Range': '200000-299999' },
    });
    assert.is(skipped.status, 416);
    assert.is(await errorCode(skipped), 'RANGE_INVALID');
    assert.is(skipped.headers.get('range'), '0-99999');
    const second = await fetch(`${url}${location}`, { method: 'PATCH', body: data.subarray(100_000, 200_000) });
    assert.is(second.headers.get('range'), '0-199999');
    const status = await fetch(`${url}${location}`);
    assert.is(status.status, 204);
    assert.is(status.headers.get('range'), '0-199999');
    const digest = sha256(data);
    const done = await fetch(`${url}${location}?digest=${digest}`, {
      method: 'PUT',
      body: data.subarray(200_000),
      headers: { 'Content-Range': '200000-299999' },
    });
    assert.is(done.status, 201);
    assert.is(done.headers.get('location'), `/v2/a/b/blobs/${digest}`);
    assert.is(done.headers.get('docker-content-digest'), digest);
    const get = await fetch(`${url}/v2/a/b/blobs/${digest}`);
    assert.is(get.status, 200);
    assert.ok(Buffer.from(await get.arrayBuffer()).equals(data));
    const head = await fetch(`${url}/v2/a/b/blobs/${digest}`, { method: 'HEAD' });
    assert.is(head.headers.get('content-length'), '300000');
    assert.is(head.headers.get('docker-content-digest'), digest);
    const ranged = await fetch(`${url}/v2/a/b/blobs/${digest}`, { headers: { Range: 'bytes=10-19' } });
    assert.is(ranged.status, 206);
    assert.is(ranged.headers.get('content-range'), 'bytes 10-19/300000');
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(10, 20)));
    const suffix = await fetch(`${url}/v2/a/b/blobs/${digest}`, { headers: { Range: 'bytes=-5' } });
    assert.ok(Buffer.from(await suffix.arrayBuffer()).equals(data.subarray(-5)));
    const outside = await fetch(`${url}/v2/a/b/blobs/${digest}`, { headers: { Range: 'bytes=400000-' } });
    assert.is(outside.status, 416);
    assert.is(outside.headers.get('content-range'), 'bytes */300000');
    // The session is gone once finished.
    assert.is(await errorCode(await fetch(`${url}${location}`)), 'BLOB_UPLOAD_UNKNOWN');
  }));

test('uploads: a wrong digest is DIGEST_INVALID and stores nothing; a cancelled session is unknown; a session is bound to its repository', () =>
  withRegistry('upload-errors', async ({ url }) => {
    const data = Buffer.from('some bytes');
    const wrong = sha256('other bytes');
    const mono = await fetch(`${url}/v2/r/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: data });
    assert.is(mono.status, 400);
    assert.is(await errorCode(mono), 'DIGEST_INVALID');
    assert.is((await fetch(`${url}/v2/r/blobs/${wrong}`, { method: 'HEAD' })).status, 404);
    assert.is(await errorCode(await fetch(`${url}/v2/r/blobs/${wrong}`)), 'BLOB_UNKNOWN');
    const bad = await fetch(`${url}/v2/r/blobs/uploads/?digest=sha256:xyz`, { method: 'POST', body: data });
    assert.is(await errorCode(bad), 'DIGEST_INVALID');

    const start = await fetch(`${url}/v2/r/blobs/uploads/`, { method: 'POST' });
    const location = start.headers.get('location')!;
    const other = location.replace('/v2/r/', '/v2/s/');
    assert.is(await errorCode(await fetch(`${url}${other}`)), 'BLOB_UPLOAD_UNKNOWN');
    await fetch(`${url}${location}`, { method: 'PATCH', body: data });
    const mismatch = await fetch(`${url}${location}?digest=${wrong}`, { method: 'PUT' });
    assert.is(await errorCode(mismatch), 'DIGEST_INVALID');

    const again = (await fetch(`${url}/v2/r/blobs/uploads/`, { method: 'POST' })).headers.get('location')!;
    const cancel = await fetch(`${url}${again}`, { method: 'DELETE' });
    assert.is(cancel.status, 204);
    assert.is(await errorCode(await fetch(`${url}${again}`, { method: 'PATCH', body: data })), 'BLOB_UPLOAD_UNKNOWN');
    assert.is(await errorCode(await fetch(`${url}/v2/r/blobs/uploads/not-a-uuid`)), 'BLOB_UPLOAD_UNKNOWN');
    const noDigest = await fetch(`${url}${(await fetch(`${url}/v2/r/blobs/uploads/`, { method: 'POST' })).headers.get('location')}`, {
      method: 'PUT',
    });
    assert.is(await errorCode(noDigest), 'DIGEST_INVALID');
  }));

test('manifests of the four media types keep their Content-Type; GET, HEAD by tag and digest; digest checked on PUT', () =>
  withRegistry('manifests', async ({ url }) => {
    const oci = await pushImage(url, 'm', 'oci', OCI_MANIFEST);
    const docker = await pushImage(url, 'm', 'docker', DOCKER_MANIFEST);
    for (const [type, child] of [
      [OCI_INDEX, oci],
      [DOCKER_LIST, docker],
    ] as const) {
      const index = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: type,
          manifests: [
            {
              mediaType: type === OCI_INDEX ? OCI_MANIFEST : DOCKER_MANIFEST,
              digest: child.manifest,
              size: child.bytes.length,
              platform: { architecture: 'amd64', os: 'linux' },
            },
          ],
        }),
      );
      const digest = sha256(index);
      const put = await fetch(`${url}/v2/m/manifests/${digest}`, { method: 'PUT', body: index, headers: { 'Content-Type': type } });
      assert.is(put.status, 201, await put.text());
      assert.is(put.headers.get('docker-content-digest'), digest);
      const got = await fetch(`${url}/v2/m/manifests/${digest}`);
      assert.is(got.headers.get('content-type'), type);
      assert.ok(Buffer.from(await got.arrayBuffer()).equals(index));
    }
    for (const [tag, image, type] of [
      ['oci', oci, OCI_MANIFEST],
      ['docker', docker, DOCKER_MANIFEST],
    ] as const) {
      const got = await fetch(`${url}/v2/m/manifests/${tag}`);
      assert.is(got.status, 200);
      assert.is(got.headers.get('content-type'), type);
      assert.is(got.headers.get('docker-content-digest'), image.manifest);
      assert.ok(Buffer.from(await got.arrayBuffer()).equals(image.bytes));
      const head = await fetch(`${url}/v2/m/manifests/${image.manifest}`, { method: 'HEAD' });
      assert.is(head.status, 200);
      assert.is(head.headers.get('content-length'), String(image.bytes.length));
    }
    const wrong = await fetch(`${url}/v2/m/manifests/${sha256('nope')}`, {
      method: 'PUT',
      body: oci.bytes,
      headers: { 'Content-Type': OCI_MANIFEST },
    });
    assert.is(wrong.status, 400);
    assert.is(await errorCode(wrong), 'DIGEST_INVALID');
    assert.is(await errorCode(await fetch(`${url}/v2/m/manifests/missing`)), 'MANIFEST_UNKNOWN');
    const headMissing = await fetch(`${url}/v2/m/manifests/missing`, { method: 'HEAD' });
    assert.is(headMissing.status, 404);
    const notJson = await fetch(`${url}/v2/m/manifests/x`, { method: 'PUT', body: 'nope', headers: { 'Content-Type': OCI_MANIFEST } });
    assert.is(await errorCode(notJson), 'MANIFEST_INVALID');
    const clash = await fetch(`${url}/v2/m/manifests/x`, { method: 'PUT', body: oci.bytes, headers: { 'Content-Type': DOCKER_MANIFEST } });
    assert.is(await errorCode(clash), 'MANIFEST_INVALID');
  }));

test('Accept negotiation as the reference registry: OCI types not accepted are MANIFEST_UNKNOWN, a list by tag gives its linux/amd64 entry', () =>
  withRegistry('accept', async ({ url }) => {
    const docker = await pushImage(url, 'n', 'docker', DOCKER_MANIFEST);
    const oci = await pushImage(url, 'n', 'oci', OCI_MANIFEST);
    const list = async (
      tag: string,
      mediaType: string,
      child: { manifest: string; bytes: Buffer },
      childType: string,
      architecture = 'amd64',
    ) => {
      const body = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType,
          manifests: [{ mediaType: childType, digest: child.manifest, size: child.bytes.length, platform: { os: 'linux', architecture } }],
        }),
      );
      const res = await fetch(`${url}/v2/n/manifests/${tag}`, { method: 'PUT', body, headers: { 'Content-Type': mediaType } });
      assert.is(res.status, 201, await res.text());
      return sha256(body);
    };
    const dockerList = await list('list', DOCKER_LIST, docker, DOCKER_MANIFEST);
    await list('armlist', DOCKER_LIST, docker, DOCKER_MANIFEST, 'arm64');
    await list('ocilist', DOCKER_LIST, oci, OCI_MANIFEST);
    const index = await list('index', OCI_INDEX, oci, OCI_MANIFEST);
    /** GET and HEAD with these Accept headers (none: no header at all): status, type, digest, error. */
    const ask = async (reference: string, accept: string[] | undefined) => {
      // undici sends Accept: */* when none is set; a raw request sends none.
      const raw = await new Promise<{ status: number; type?: string; digest?: string; body: string }>((resolve, reject) => {
        const req = http.request(`${url}/v2/n/manifests/${reference}`, { headers: accept ? { Accept: accept } : {} }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            body += c;
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode!,
              type: res.headers['content-type'],
              digest: res.headers['docker-content-digest'] as string | undefined,
              body,
            }),
          );
        });
        req.on('error', reject);
        req.end();
      });
      const head = await new Promise<number>((resolve, reject) => {
        const req = http.request(
          `${url}/v2/n/manifests/${reference}`,
          { method: 'HEAD', headers: accept ? { Accept: accept } : {} },
          (res) => {
            res.resume();
            resolve(res.statusCode!);
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.is(head, raw.status, `HEAD and GET of ${reference} with ${accept}`);
      const error =
        raw.status >= 400 ? (JSON.parse(raw.body) as { errors: Array<{ code: string; message: string }> }).errors[0] : undefined;
      return { status: raw.status, type: raw.type, digest: raw.digest, error: error && `${error.code}: ${error.message}` };
    };
    // Accepted: as stored, whatever else the header lists; no header or a wildcard accepts anything.
    for (const accept of [
      undefined,
      ['*/*'],
      ['application/*'],
      [`${DOCKER_MANIFEST}, ${OCI_MANIFEST}`],
      [DOCKER_MANIFEST, OCI_MANIFEST],
    ]) {
      assert.equal(await ask('oci', accept), { status: 200, type: OCI_MANIFEST, digest: oci.manifest, error: undefined }, String(accept));
    }
    assert.equal(await ask('list', [DOCKER_LIST]), { status: 200, type: DOCKER_LIST, digest: dockerList, error: undefined });
    // OCI types not accepted: 404 in the reference's words, by tag and by digest; q=0 refuses.
    const ociRefused = {
      status: 404,
      type: 'application/json',
      digest: undefined,
      error: 'MANIFEST_UNKNOWN: OCI manifest found, but accept header does not support OCI manifests',
    };
    assert.equal(await ask('oci', [DOCKER_MANIFEST]), ociRefused);
    assert.equal(await ask(oci.manifest, [DOCKER_MANIFEST]), ociRefused);
    assert.equal(await ask('oci', [`${DOCKER_MANIFEST}, ${OCI_MANIFEST};q=0`]), ociRefused);
    assert.equal(await ask('index', [`${DOCKER_MANIFEST}, ${DOCKER_LIST}, ${OCI_MANIFEST}`]), {
      ...ociRefused,
      error: 'MANIFEST_UNKNOWN: OCI index found, but accept header does not support OCI indexes',
    });
    assert.equal((await ask(index, [OCI_INDEX])).status, 200);
    // A Docker schema 2 manifest is served to any client: nothing converts to schema 1 any more.
    assert.equal(await ask('docker', [OCI_MANIFEST]), { status: 200, type: DOCKER_MANIFEST, digest: docker.manifest, error: undefined });
    // A list by tag to a client without lists: its linux/amd64 entry, with that manifest's type and digest.
    assert.equal(await ask('list', [`${DOCKER_MANIFEST};q=0.5`]), {
      status: 200,
      type: DOCKER_MANIFEST,
      digest: docker.manifest,
      error: undefined,
    });
    assert.equal((await ask('list', [OCI_MANIFEST])).error, 'MANIFEST_INVALID: Schema 2 manifest not supported by client');
    assert.equal((await ask('ocilist', [OCI_MANIFEST])).digest, oci.manifest);
    assert.equal((await ask('ocilist', [DOCKER_MANIFEST])).error, ociRefused.error);
    assert.equal((await ask('armlist', [DOCKER_MANIFEST])).error, 'MANIFEST_UNKNOWN: manifest unknown');
    // By digest a list is served as is: the digest names its bytes.
    assert.equal(await ask(dockerList, [DOCKER_MANIFEST]), { status: 200, type: DOCKER_LIST, digest: dockerList, error: undefined });
  }));

test('a manifest naming blobs the repository lacks is MANIFEST_BLOB_UNKNOWN, even when another repository has them', () =>
  withRegistry('blob-unknown', async ({ url }) => {
    const config = Buffer.from('{}');
    const configDigest = await pushBlob(url, 'other', config);
    const manifest = imageManifest({ digest: configDigest, size: 2 }, [{ digest: sha256('absent layer'), size: 12 }]);
    const res = await fetch(`${url}/v2/mine/manifests/v1`, { method: 'PUT', body: manifest, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.is(res.status, 400);
    const body = (await res.json()) as { errors: Array<{ code: string; detail: { digest: string } }> };
    assert.is(body.errors[0]!.code, 'MANIFEST_BLOB_UNKNOWN');
    assert.is(body.errors[0]!.detail.digest, configDigest);
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256('x'), size: 1 }] }),
    );
    const idx = await fetch(`${url}/v2/other/manifests/i`, { method: 'PUT', body: index, headers: { 'Content-Type': OCI_INDEX } });
    assert.is(await errorCode(idx), 'MANIFEST_BLOB_UNKNOWN');
    assert.is((await fetch(`${url}/v2/mine/manifests/v1`)).status, 404);
  }));

test('delete: a tag, a manifest by digest (its tags go too), a blob link; then they are unknown', () =>
  withRegistry('delete', async ({ url }) => {
    const img = await pushImage(url, 'd', 'one');
    await fetch(`${url}/v2/d/manifests/two`, { method: 'PUT', body: img.bytes, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.is((await fetch(`${url}/v2/d/manifests/one`, { method: 'DELETE' })).status, 202);
    assert.equal(((await (await fetch(`${url}/v2/d/tags/list`)).json()) as { tags: string[] }).tags, ['two']);
    assert.is((await fetch(`${url}/v2/d/manifests/${img.manifest}`, { method: 'DELETE' })).status, 202);
    assert.is(await errorCode(await fetch(`${url}/v2/d/manifests/two`)), 'MANIFEST_UNKNOWN');
    assert.is(await errorCode(await fetch(`${url}/v2/d/manifests/${img.manifest}`, { method: 'DELETE' })), 'MANIFEST_UNKNOWN');
    assert.is((await fetch(`${url}/v2/d/blobs/${img.layer}`, { method: 'DELETE' })).status, 202);
    assert.is(await errorCode(await fetch(`${url}/v2/d/blobs/${img.layer}`)), 'BLOB_UNKNOWN');
  }));

test('cross-repository mount: 201 when the source has the blob, a plain session (202) when not', () =>
  withRegistry('mount', async ({ url }) => {
    const digest = await pushBlob(url, 'src/repo', Buffer.from('layer'));
    const mounted = await fetch(`${url}/v2/dst/blobs/uploads/?mount=${digest}&from=src/repo`, { method: 'POST' });
    assert.is(mounted.status, 201);
    assert.is(mounted.headers.get('location'), `/v2/dst/blobs/${digest}`);
    assert.is(await (await fetch(`${url}/v2/dst/blobs/${digest}`)).text(), 'layer');
    const fallback = await fetch(`${url}/v2/dst2/blobs/uploads/?mount=${digest}&from=nowhere`, { method: 'POST' });
    assert.is(fallback.status, 202);
    assert.match(fallback.headers.get('location')!, /\/v2\/dst2\/blobs\/uploads\//);
  }));

test('tags list and catalog paginate with n and last, with a Link to the next page', () =>
  withRegistry('pagination', async ({ url }) => {
    const img = await pushImage(url, 'p/one', 'a');
    for (const tag of ['c', 'b', 'e', 'd']) {
      await fetch(`${url}/v2/p/one/manifests/${tag}`, { method: 'PUT', body: img.bytes, headers: { 'Content-Type': OCI_MANIFEST } });
    }
    await pushImage(url, 'p/two', 'x');
    await pushImage(url, 'p3', 'x');
    const all = await fetch(`${url}/v2/p/one/tags/list`);
    assert.equal(await all.json(), { name: 'p/one', tags: ['a', 'b', 'c', 'd', 'e'] });
    const page1 = await fetch(`${url}/v2/p/one/tags/list?n=2`);
    assert.equal(await page1.json(), { name: 'p/one', tags: ['a', 'b'] });
    assert.is(page1.headers.get('link'), '</v2/p/one/tags/list?n=2&last=b>; rel="next"');
    const page3 = await fetch(`${url}/v2/p/one/tags/list?n=2&last=d`);
    assert.equal(await page3.json(), { name: 'p/one', tags: ['e'] });
    assert.is(page3.headers.get('link'), null);
    assert.equal(await (await fetch(`${url}/v2/p/one/tags/list?n=0`)).json(), { name: 'p/one', tags: [] });
    assert.is(await errorCode(await fetch(`${url}/v2/p/one/tags/list?n=-1`)), 'PAGINATION_NUMBER_INVALID');
    assert.is(await errorCode(await fetch(`${url}/v2/nope/tags/list`)), 'NAME_UNKNOWN');
    assert.equal(await (await fetch(`${url}/v2/_catalog`)).json(), { repositories: ['p/one', 'p/two', 'p3'] });
    const cat = await fetch(`${url}/v2/_catalog?n=1&last=p/one`);
    assert.equal(await cat.json(), { repositories: ['p/two'] });
    assert.is(cat.headers.get('link'), '</v2/_catalog?n=1&last=p%2Ftwo>; rel="next"');
  }));

test('referrers: manifests with a subject are listed, filtered by artifactType; OCI-Subject on PUT; removed with the manifest', () =>
  withRegistry('referrers', async ({ url }) => {
    const subject = await pushImage(url, 'ref', 'v1');
    const descriptor = { mediaType: OCI_MANIFEST, digest: subject.manifest, size: subject.bytes.length };
    const sbom = await pushImage(url, 'ref', 'sbom', OCI_MANIFEST, {
      artifactType: 'application/spdx+json',
      subject: descriptor,
      annotations: { kind: 'sbom' },
    });
    const sig = await pushImage(url, 'ref', 'sig', OCI_MANIFEST, {
      artifactType: 'application/vnd.example.signature',
      subject: descriptor,
    });
    const put = await fetch(`${url}/v2/ref/manifests/again`, { method: 'PUT', body: sig.bytes, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.is(put.headers.get('oci-subject'), subject.manifest);
    const all = await fetch(`${url}/v2/ref/referrers/${subject.manifest}`);
    assert.is(all.status, 200);
    assert.is(all.headers.get('content-type'), OCI_INDEX);
    const index = (await all.json()) as {
      manifests: Array<{ digest: string; artifactType: string; annotations?: Record<string, string> }>;
    };
    assert.equal(index.manifests.map((m) => m.digest).sort(), [sbom.manifest, sig.manifest].sort());
    assert.equal(index.manifests.find((m) => m.digest === sbom.manifest)!.annotations, { kind: 'sbom' });
    const filtered = await fetch(`${url}/v2/ref/referrers/${subject.manifest}?artifactType=application/spdx%2Bjson`);
    assert.is(filtered.headers.get('oci-filters-applied'), 'artifactType');
    assert.equal(
      ((await filtered.json()) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest),
      [sbom.manifest],
    );
    await fetch(`${url}/v2/ref/manifests/${sbom.manifest}`, { method: 'DELETE' });
    const after = (await (await fetch(`${url}/v2/ref/referrers/${subject.manifest}`)).json()) as { manifests: unknown[] };
    assert.is(after.manifests.length, 1);
    const none = (await (await fetch(`${url}/v2/ref/referrers/${sha256('nothing')}`)).json()) as { manifests: unknown[] };
    assert.equal(none.manifests, []);
  }));

test('repository names are checked against the spec (NAME_INVALID); unknown endpoints and methods are refused', () =>
  withRegistry('names', async ({ url }) => {
    for (const name of ['UPPER', 'a//b', '-lead', 'trail-', 'a/_b', `${'a'.repeat(256)}`]) {
      const res = await fetch(`${url}/v2/${name}/tags/list`);
      assert.is(res.status, 400, name);
      assert.is(await errorCode(res), 'NAME_INVALID', name);
    }
    for (const name of ['a.b', 'a__b', 'a---b', 'a/b/c', 'x0']) {
      assert.is(await errorCode(await fetch(`${url}/v2/${name}/tags/list`)), 'NAME_UNKNOWN', name);
    }
    assert.is((await fetch(`${url}/v2/x/manifests/latest`, { method: 'POST' })).status, 405);
    assert.is((await fetch(`${url}/nothing`)).status, 404);
    const badTag = await fetch(`${url}/v2/x/manifests/.bad`, { method: 'PUT', body: '{}' });
    assert.is(await errorCode(badTag), 'MANIFEST_INVALID');
  }));

test('an upload cut off mid-PATCH keeps what arrived; the client resumes from the Range and finishes', () =>
  withRegistry('resume', async ({ url }) => {
    const data = randomBytes(256_000);
    const location = (await fetch(`${url}/v2/r/blobs/uploads/`, { method: 'POST' })).headers.get('location')!;
    await new Promise<void>((resolve) => {
      const req = http.request(`${url}${location}`, { method: 'PATCH', headers: { 'Content-Length': data.length } });
      // 'close' always comes after a destroy; 'error' only when no response had arrived yet.
      req.on('error', () => {});
      req.on('close', () => resolve());
      req.write(data.subarray(0, 100_000), () => setTimeout(() => req.destroy(), 50));
    });
    // What arrived is kept (how much of the 100 000 bytes reached the file before the server
    // saw the cut depends on timing); a client asks for the Range and resumes from there, asking
    // again if the session moved on meanwhile (416), as the spec has it.
    const rangeEnd = async () => Number((await fetch(`${url}${location}`)).headers.get('range')!.split('-')[1]) + 1;
    let rest: Response | undefined;
    let received = 0;
    for (let attempt = 0; attempt < 20; attempt++) {
      received = await rangeEnd();
      assert.ok(received <= 100_000, `no more than was sent: ${received}`);
      rest = await fetch(`${url}${location}?digest=${sha256(data)}`, {
        method: 'PUT',
        body: data.subarray(received),
        headers: { 'Content-Range': `${received}-${data.length - 1}` },
      });
      if (rest.status !== 416) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.is(rest!.status, 201, await rest!.text());
    assert.ok(received > 0, 'some of the cut chunk was kept');
    assert.ok(Buffer.from(await (await fetch(`${url}/v2/r/blobs/${sha256(data)}`)).arrayBuffer()).equals(data));
    // The server is still serving (nothing crashed on the cut connection).
    assert.is((await fetch(`${url}/v2/`)).status, 200);
  }));

test('a client that goes away mid-GET leaves the server serving; an empty blob is served', () =>
  withRegistry('abort-get', async ({ url }) => {
    const data = randomBytes(8 << 20);
    const digest = await pushBlob(url, 'big', data);
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        http.get(`${url}/v2/big/blobs/${digest}`, (res) => {
          res.once('data', () => {
            res.destroy();
            resolve();
          });
        });
      });
    }
    const whole = await fetch(`${url}/v2/big/blobs/${digest}`);
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(data));
    const empty = await pushBlob(url, 'big', Buffer.alloc(0));
    const got = await fetch(`${url}/v2/big/blobs/${empty}`);
    assert.is(got.status, 200);
    assert.is(got.headers.get('content-length'), '0');
    assert.is((await got.arrayBuffer()).byteLength, 0);
  }));

test.run();
