import { InvalidArgument, NotFound } from '@berth/core';
import type { Descriptor, Platform } from '../manifest.js';

/**
 * The platform berth runs images for when none is asked: its own. berth runs Linux
 * containers only; the architecture is Node's name mapped to Go's (`x64` → `amd64`).
 */
export function hostPlatform(): Platform {
  const arch = (
    { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<
      string,
      string
    >
  )[process.arch];
  return { os: 'linux', architecture: arch ?? process.arch };
}

/**
 * `--platform` as Docker reads it: `os[/arch[/variant]]` or `arch` alone is refused,
 * lowercase, with Docker's normalisations (`x86_64` → `amd64`, `aarch64` → `arm64`,
 * `arm64/v8` → `arm64`, `armhf` → `arm/v7`). InvalidArgument names a bad value.
 */
export function parsePlatform(value: string): Platform {
  const parts = value.toLowerCase().split('/');
  if (parts.length < 1 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) {
    throw new InvalidArgument(`invalid platform: ${JSON.stringify(value)} (expected os[/arch[/variant]], e.g. linux/amd64)`);
  }
  const [os, arch, variant] = parts as [string, string | undefined, string | undefined];
  const platform: Platform = { os, architecture: arch ?? hostPlatform().architecture };
  if (variant !== undefined) platform.variant = variant;
  return normalizePlatform(platform);
}

/** Docker's (containerd's) normal form of an architecture and its variant. */
export function normalizePlatform(p: Platform): Platform {
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  if (architecture === 'x86_64' || architecture === 'x86-64') architecture = 'amd64';
  if (architecture === 'i386') architecture = '386';
  if (architecture === 'aarch64') architecture = 'arm64';
  if (architecture === 'arm64' && (variant === 'v8' || variant === '8')) variant = undefined;
  if (architecture === 'armhf') {
    architecture = 'arm';
    variant = 'v7';
  }
  if (architecture === 'armel') {
    architecture = 'arm';
    variant = 'v6';
  }
  if (architecture === 'arm' && variant !== undefined && /^\d$/.test(variant)) variant = `v${variant}`;
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  const out: Platform = { os: p.os.toLowerCase(), architecture };
  if (variant !== undefined && variant !== '') out.variant = variant;
  return out;
}

/** `linux/arm/v7`, as messages print a platform. */
export function platformString(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
}

/**
 * The manifest of an index (manifest list) for `wanted`: os and architecture must be
 * equal; a variant asked must be equal, and without one asked the entry with no variant
 * (or `arm`'s `v7`, the default) is preferred. Entries without a platform (attestations,
 * `unknown/unknown`) never match. NotFound when nothing matches,
 * in Docker's words: `no matching manifest for linux/arm64 in the manifest list entries`.
 */
export function selectManifest(manifests: Descriptor[], wanted: Platform): Descriptor {
  const want = normalizePlatform(wanted);
  const candidates = manifests.filter((m) => {
    if (!m.platform) return false;
    const p = normalizePlatform(m.platform);
    return p.os === want.os && p.architecture === want.architecture;
  });
  const exact = candidates.find((m) => normalizePlatform(m.platform!).variant === want.variant);
  if (exact) return exact;
  if (want.variant === undefined && candidates.length > 0) {
    const preferred = want.architecture === 'arm' ? candidates.find((m) => normalizePlatform(m.platform!).variant === 'v7') : undefined;
    return preferred ?? candidates[0]!;
  }
  throw new NotFound(`no matching manifest for ${platformString(want)} in the manifest list entries`);
}
