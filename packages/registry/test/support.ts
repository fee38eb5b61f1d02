import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { RegistryServer, type RegistryServerOptions } from '@berth/registry';
import * as assert from 'uvu/assert';

/** A temporary directory named for this suite, removed by `cleanup` whatever happened. */
export function tempDir(purpose: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join('/tmp', `berth-unit-registry-${purpose}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A registry on an ephemeral loopback port over a fresh root, run in this process. */
export async function withRegistry(
  purpose: string,
  fn: (r: { url: string; root: string; dir: string }) => Promise<void>,
  options: Partial<RegistryServerOptions> = {},
): Promise<void> {
  const { dir, cleanup } = tempDir(purpose);
  const root = path.join(dir, 'root');
  let server: RegistryServer | undefined;
  try {
    server = await RegistryServer.start({ addr: '127.0.0.1:0', root, log: () => {}, ...options });
    const scheme = server.tls ? 'https' : 'http';
    await fn({ url: `${scheme}://127.0.0.1:${server.address().port}`, root, dir });
  } finally {
    await server?.close();
    cleanup();
  }
}

/** A monolithic blob upload (`POST ?digest=`); returns its digest. */
export async function pushBlob(url: string, repo: string, bytes: Uint8Array, headers: Record<string, string> = {}): Promise<string> {
  const digest = sha256(bytes);
  const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    body: bytes,
    headers: { 'Content-Type': 'application/octet-stream', ...headers },
  });
  assert.is(res.status, 201, `blob upload to ${repo}: ${await res.text()}`);
  return digest;
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

/** An image manifest's bytes over a config and layers already pushed. */
export function imageManifest(
  config: { digest: string; size: number },
  layers: Array<{ digest: string; size: number }>,
  mediaType = OCI_MANIFEST,
  extra: Record<string, unknown> = {},
): Buffer {
  const docker = mediaType === DOCKER_MANIFEST;
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: {
        mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json',
        ...config,
      },
      layers: layers.map((l) => ({
        mediaType: docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip',
        ...l,
      })),
      ...extra,
    }),
  );
}

/** Pushes a small random image (config, one layer, manifest) under `reference`; returns the digests. */
export async function pushImage(
  url: string,
  repo: string,
  reference: string,
  mediaType = OCI_MANIFEST,
  extra: Record<string, unknown> = {},
): Promise<{ manifest: string; config: string; layer: string; bytes: Buffer }> {
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') }));
  const layerBytes = randomBytes(1024 + Math.floor(Math.random() * 1024));
  const config = await pushBlob(url, repo, configBytes);
  const layer = await pushBlob(url, repo, layerBytes);
  const bytes = imageManifest({ digest: config, size: configBytes.length }, [{ digest: layer, size: layerBytes.length }], mediaType, extra);
  const res = await fetch(`${url}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    body: bytes,
    headers: { 'Content-Type': mediaType },
  });
  assert.is(res.status, 201, `manifest put: ${await res.text()}`);
  return { manifest: sha256(bytes), config, layer, bytes };
}

/** The spec's error body, checked: its first code. */
export async function errorCode(res: Response): Promise<string> {
  const body = (await res.json()) as { errors: Array<{ code: string; message: string }> };
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, 'an errors array');
  assert.type(body.errors[0]!.message, 'string');
  return body.errors[0]!.code;
}
