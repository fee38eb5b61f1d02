import { InvalidArgument } from '@berth/core';
import { type Digest, isDigest } from './digest.js';

/**
 * The runtime defaults an image gives its containers: the `config` object of the OCI
 * image config, with Docker's capitalised keys. Every field is optional; Docker writes
 * `null` for empty ones, so readers must accept both.
 */
export interface ContainerConfig {
  User?: string;
  /** `"80/tcp": {}` for each port. */
  ExposedPorts?: Record<string, Record<string, never>> | null;
  /** `KEY=value` strings. */
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  /** `"/data": {}` for each volume. */
  Volumes?: Record<string, Record<string, never>> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  /** Docker extensions that OCI does not define but images carry. */
  Healthcheck?: HealthConfig | null;
  OnBuild?: string[] | null;
  Shell?: string[] | null;
  ArgsEscaped?: boolean;
  [key: string]: unknown;
}

/** A Docker HEALTHCHECK as an image config stores it (durations in nanoseconds). */
export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  /** The interval of probes during StartPeriod (API 1.44). */
  StartInterval?: number;
  Retries?: number;
}

/** The layers of an image, bottom first, by the digests of their uncompressed tars. */
export interface RootFs {
  type: 'layers';
  diff_ids: Digest[];
}

/** One step of how the image was made; `empty_layer` steps added no layer. */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/**
 * The image config JSON (OCI image-spec `config.json`, Docker's image JSON). Its
 * sha256 is the image id. Unknown fields (Docker's `container`, `container_config`,
 * `docker_version`, ...) are kept as they are, so a re-save yields the same id.
 */
export interface ImageConfig {
  /** ISO 8601. */
  created?: string;
  author?: string;
  /** Go's names: amd64, arm64, arm, 386, ppc64le, s390x, riscv64. */
  architecture: string;
  variant?: string;
  os: string;
  'os.version'?: string;
  config?: ContainerConfig;
  rootfs: RootFs;
  history?: HistoryEntry[];
  [key: string]: unknown;
}

/** Go's GOARCH name for a Node `process.arch`. */
export function goArch(nodeArch: string = process.arch): string {
  const names: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
    loong64: 'loong64',
    mips: 'mips',
    mipsel: 'mipsle',
  };
  return names[nodeArch] ?? nodeArch;
}

/**
 * Check that a parsed JSON value is an image config berth can run: an object with
 * `architecture`, `os` and `rootfs.diff_ids` as digests. `where` names the source in
 * the InvalidArgument message (`config sha256:… in the archive`).
 */
export function checkImageConfig(value: unknown, where: string): ImageConfig {
  const fail = (problem: string): never => {
    throw new InvalidArgument(`invalid image config ${where}: ${problem}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object');
  const config = value as Partial<ImageConfig>;
  if (typeof config.architecture !== 'string' || config.architecture === '') fail('architecture is missing');
  if (typeof config.os !== 'string' || config.os === '') fail('os is missing');
  const rootfs = config.rootfs as Partial<RootFs> | undefined;
  if (typeof rootfs !== 'object' || rootfs === null) return fail('rootfs is missing');
  if (rootfs.type !== 'layers') fail(`rootfs.type is ${JSON.stringify(rootfs.type)}, expected "layers"`);
  if (!Array.isArray(rootfs.diff_ids)) return fail('rootfs.diff_ids is missing');
  rootfs.diff_ids.forEach((d, i) => {
    if (!isDigest(d)) fail(`rootfs.diff_ids[${i}] is not a sha256 digest: ${JSON.stringify(d)}`);
  });
  if (config.config !== undefined && config.config !== null && (typeof config.config !== 'object' || Array.isArray(config.config))) {
    fail('config is not an object');
  }
  if (config.history !== undefined && !Array.isArray(config.history)) fail('history is not an array');
  return config as ImageConfig;
}
