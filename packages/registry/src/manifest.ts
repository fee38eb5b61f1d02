import { type Digest, parseDigest } from './digest.js';
import { DistributionError } from './distribution-error.js';

export const MEDIA_TYPES = Object.freeze({
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
});

/** The media types a manifest PUT may carry. */
export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set(Object.values(MEDIA_TYPES));

// Layers a registry is not expected to hold: pushed with `urls`, fetched from elsewhere.
const FOREIGN_LAYER_TYPES = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

/** A content descriptor as manifests carry it. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
}

/** What the registry needs to know of a pushed manifest. */
export interface ParsedManifest {
  mediaType: string;
  /** Blobs that must be in the repository (config and layers of an image manifest). */
  blobs: Digest[];
  /** Manifests that must be in the repository (the entries of an index or list). */
  manifests: Digest[];
  /** The manifest this one refers to (OCI 1.1 `subject`), if any. */
  subject?: Digest;
  /** `artifactType`, else the config's media type: what the referrers API reports and filters on. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

function descriptor(value: unknown, where: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (!d || typeof d !== 'object' || typeof d.digest !== 'string' || typeof d.size !== 'number' || typeof d.mediaType !== 'string') {
    throw new DistributionError('MANIFEST_INVALID', `manifest ${where} is not a descriptor (mediaType, digest, size)`);
  }
  if (!parseDigest(d.digest)) throw new DistributionError('MANIFEST_INVALID', `manifest ${where} has an invalid digest: "${d.digest}"`);
  if (!Number.isSafeInteger(d.size) || d.size < 0) throw new DistributionError('MANIFEST_INVALID', `manifest ${where} has an invalid size`);
  return d as Descriptor;
}

/**
 * Parses and checks a manifest body pushed with `contentType` (the request's Content-Type;
 * empty: take the body's `mediaType`). Throws MANIFEST_INVALID naming what is wrong.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new DistributionError('MANIFEST_INVALID', `manifest is not JSON: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new DistributionError('MANIFEST_INVALID', 'manifest is not a JSON object');
  if (doc.schemaVersion !== 2)
    throw new DistributionError('MANIFEST_INVALID', `unsupported manifest schemaVersion: ${JSON.stringify(doc.schemaVersion)}`);
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const type = (contentType?.split(';')[0]?.trim() || declared || '').toLowerCase();
  // An OCI manifest may omit mediaType: its shape says which it is.
  const mediaType = type || (Array.isArray(doc.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest);
  if (!MANIFEST_MEDIA_TYPES.has(mediaType))
    throw new DistributionError('MANIFEST_INVALID', `unsupported manifest media type: "${mediaType}"`);
  if (declared !== undefined && declared !== mediaType) {
    throw new DistributionError('MANIFEST_INVALID', `manifest mediaType "${declared}" differs from its Content-Type "${mediaType}"`);
  }
  const parsed: ParsedManifest = { mediaType, blobs: [], manifests: [] };
  if (mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerManifestList) {
    if (!Array.isArray(doc.manifests)) throw new DistributionError('MANIFEST_INVALID', 'index has no manifests array');
    doc.manifests.forEach((m, i) => {
      parsed.manifests.push(parseDigest(descriptor(m, `manifests[${i}]`).digest)!);
    });
  } else {
    const config = descriptor(doc.config, 'config');
    parsed.blobs.push(parseDigest(config.digest)!);
    if (!Array.isArray(doc.layers)) throw new DistributionError('MANIFEST_INVALID', 'manifest has no layers array');
    doc.layers.forEach((l, i) => {
      const layer = descriptor(l, `layers[${i}]`);
      if (FOREIGN_LAYER_TYPES.has(layer.mediaType) && Array.isArray(layer.urls) && layer.urls.length > 0) return;
      parsed.blobs.push(parseDigest(layer.digest)!);
    });
    parsed.artifactType = config.mediaType;
  }
  if (typeof doc.artifactType === 'string') parsed.artifactType = doc.artifactType;
  if (doc.subject !== undefined) parsed.subject = parseDigest(descriptor(doc.subject, 'subject').digest)!;
  if (doc.annotations && typeof doc.annotations === 'object') parsed.annotations = doc.annotations as Record<string, string>;
  return parsed;
}
