import type { Digest } from './digest.js';

/** A pointer to content: what it is, its digest and size (OCI descriptor). */
export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
}

/** The platform an image is for, as indexes and manifest lists name it. */
export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
}

/**
 * An image manifest: its config and layers. One shape for Docker's v2 schema 2
 * (`application/vnd.docker.distribution.manifest.v2+json`, `mediaType` required) and
 * OCI's (`application/vnd.oci.image.manifest.v1+json`, `mediaType` optional).
 */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  /** Bottom layer first; each may be compressed (see its media type). */
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** A list of manifests, one per platform: Docker's manifest list or an OCI image index. */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** The `oci-layout` file at the top of an OCI image layout. */
export interface OciLayout {
  imageLayoutVersion: string;
}

/** One element of a docker-archive's `manifest.json` (the legacy `docker save` layout). */
export interface ArchiveManifestEntry {
  /** The path of the config inside the archive: `<hex>.json` or `blobs/sha256/<hex>`. */
  Config: string;
  RepoTags: string[] | null;
  /** Paths of the layer tars, bottom first. */
  Layers: string[];
  Parent?: string;
  LayerSources?: Record<string, Descriptor>;
}

/** The annotation holding an image's name in OCI layouts (often only a tag). */
export const ociRefNameAnnotation = 'org.opencontainers.image.ref.name';
/** The annotation containerd and Docker put the full image name in. */
export const containerdImageNameAnnotation = 'io.containerd.image.name';
