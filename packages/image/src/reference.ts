import { InvalidArgument } from '@berth/core';
import type { Digest } from './digest.js';

/**
 * An image reference in its normalised form: `docker.io/library/busybox:latest`.
 * `domain` is the registry (`docker.io`, `127.0.0.1:5010`), `path` the repository inside
 * it (`library/busybox`, `trc/busybox`), and at least one of `tag`/`digest` once
 * normalised. Plain data, so it can be stored and compared as JSON.
 */
export interface Reference {
  domain: string;
  path: string;
  tag?: string;
  digest?: Digest;
}

/** The registry Docker assumes when a name has none. */
export const defaultDomain = 'docker.io';
/** The repository namespace of Docker Hub's official images. */
export const officialNamespace = 'library';
/** The tag a reference gets when it names neither a tag nor a digest. */
export const defaultTag = 'latest';

const maxNameLength = 255;

// Docker's reference grammar (distribution/reference), assembled from its parts so
// each part can be read on its own.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]*)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainPattern = `${domainComponent}(?:\\.${domainComponent})*(?::[0-9]+)?`;
const namePattern = `(?:${domainPattern}/)?${pathComponent}(?:/${pathComponent})*`;
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const referenceRegexp = new RegExp(`^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
const anchoredDomain = new RegExp(`^${domainPattern}$`);
const anchoredTag = new RegExp(`^${tagPattern}$`);
const anchoredIdentifier = /^[a-f0-9]{64}$/;

/**
 * Parse a reference as the Docker daemon does (`ParseNormalizedNamed`): a familiar
 * name gains its registry and namespace (`busybox` → `docker.io/library/busybox`), a
 * tag or digest is kept as written, no default tag is added (see `normalizeReference`).
 * Throws InvalidArgument with Docker's messages.
 */
export function parseReference(input: string): Reference {
  if (typeof input !== 'string' || input === '') {
    throw new InvalidArgument('invalid reference format: repository name must have at least one component');
  }
  if (anchoredIdentifier.test(input)) {
    throw new InvalidArgument(`invalid repository name (${input}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDomain(input);
  // The repository part must be lowercase; a tag may hold capitals (`busybox:Latest`).
  const tagSep = remainder.indexOf(':');
  const remoteName = tagSep >= 0 ? remainder.slice(0, tagSep) : remainder;
  if (remoteName.toLowerCase() !== remoteName) {
    throw new InvalidArgument('invalid reference format: repository name must be lowercase');
  }
  const full = `${domain}/${remainder}`;
  const m = referenceRegexp.exec(full);
  if (!m) {
    if (referenceRegexp.test(full.toLowerCase())) {
      throw new InvalidArgument('invalid reference format: repository name must be lowercase');
    }
    throw new InvalidArgument(`invalid reference format: ${JSON.stringify(input)}`);
  }
  const name = m[1]!;
  if (name.length > maxNameLength) {
    throw new InvalidArgument(`invalid reference format: repository name must not be more than ${maxNameLength} characters`);
  }
  const ref: Reference = { domain, path: name.slice(domain.length + 1) };
  if (m[2] !== undefined) ref.tag = m[2];
  if (m[3] !== undefined) ref.digest = validateReferenceDigest(m[3]);
  return ref;
}

/**
 * `parseReference` plus Docker's default tag: a reference with neither tag nor digest
 * gets `:latest` (`busybox` → `docker.io/library/busybox:latest`).
 */
export function normalizeReference(input: string | Reference): Reference {
  const ref = typeof input === 'string' ? parseReference(input) : { ...input };
  if (ref.tag === undefined && ref.digest === undefined) ref.tag = defaultTag;
  return ref;
}

/** True when the reference names only a repository: no tag, no digest. */
export function isNameOnly(ref: Reference): boolean {
  return ref.tag === undefined && ref.digest === undefined;
}

/** The fully qualified repository name: `docker.io/library/busybox`. */
export function referenceName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The fully qualified reference: `docker.io/library/busybox:latest`, `…/x@sha256:…`. */
export function referenceString(ref: Reference): string {
  return referenceName(ref) + suffix(ref);
}

/**
 * The repository name as Docker prints it: registry and `library/` dropped for Docker
 * Hub (`busybox`, `trc/busybox`), kept otherwise (`127.0.0.1:5010/x`).
 */
export function familiarName(ref: Reference): string {
  if (ref.domain !== defaultDomain) return referenceName(ref);
  const rest = ref.path.slice(officialNamespace.length + 1);
  if (ref.path.startsWith(`${officialNamespace}/`) && !rest.includes('/')) return rest;
  return ref.path;
}

/** The reference as Docker prints it: `busybox:latest`, `trc/busybox:v1`, `127.0.0.1:5010/x:1`. */
export function familiarString(ref: Reference): string {
  return familiarName(ref) + suffix(ref);
}

/** The same repository with `tag` (and no digest); checks the tag's grammar. */
export function withTag(ref: Reference, tag: string): Reference {
  if (!anchoredTag.test(tag)) throw new InvalidArgument(`invalid tag format: ${JSON.stringify(tag)}`);
  return { domain: ref.domain, path: ref.path, tag };
}

/** True when `a` and `b` name the same repository (ignoring tag and digest). */
export function sameRepository(a: Reference, b: Reference): boolean {
  return a.domain === b.domain && a.path === b.path;
}

function suffix(ref: Reference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

// Docker's splitDockerDomain: the first component is a registry only when it looks like
// a host (a dot, a port, or `localhost`); otherwise the whole name is on Docker Hub.
function splitDomain(name: string): [string, string] {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = i >= 0 ? name.slice(0, i) : '';
  if (i < 0 || (!/[.:]/.test(first) && first !== 'localhost')) {
    domain = defaultDomain;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
    if (!anchoredDomain.test(domain)) throw new InvalidArgument(`invalid reference format: ${JSON.stringify(name)}`);
  }
  if (domain === 'index.docker.io') domain = defaultDomain;
  if (domain === defaultDomain && !remainder.includes('/')) remainder = `${officialNamespace}/${remainder}`;
  return [domain, remainder];
}

function validateReferenceDigest(value: string): Digest {
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  if (algorithm !== 'sha256') throw new InvalidArgument(`unsupported digest algorithm: ${value}`);
  if (hex.length !== 64) throw new InvalidArgument(`invalid checksum digest length: ${value}`);
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new InvalidArgument(`invalid checksum digest format: ${value}`);
  return value as Digest;
}
