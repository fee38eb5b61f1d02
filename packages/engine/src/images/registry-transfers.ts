import { InvalidArgument, NotFound, type PullOptions, type PushOptions, type RegistryAuth } from '@berth/core';
import {
  type Digest,
  defaultDomain,
  familiarName,
  familiarString,
  type ImageStore,
  isNameOnly,
  normalizeReference,
  parsePlatform,
  parseReference,
  pullImage,
  pushImage,
  RegistryClient,
  referenceName,
  registryEndpoints,
} from '@berth/image';
import type { RegistryConfig } from '../config.js';

/** An image a pull or push moved, for the image events (`pull`, `push`). */
export interface TransferredImage {
  id: Digest;
  name: string;
}

/**
 * `docker pull` as dockerd answers it: one reference (a tag defaults to `latest`), or
 * every tag of a repository (`allTags`, or a name given with neither tag nor digest),
 * each through `pullImage`; then dockerd's closing lines, `Digest: …` per image and one
 * `Status: Downloaded newer image for …` or `Status: Image is up to date for …`.
 */
export async function pullImages(
  store: ImageStore,
  name: string,
  options: PullOptions,
  registry: RegistryConfig,
  version: string,
): Promise<TransferredImage[]> {
  const parsed = parseReference(name);
  const platform = options.platform ? parsePlatform(options.platform) : undefined;
  const common = {
    hosts: registry,
    auth: options.auth,
    platform,
    maxConcurrentDownloads: registry.maxConcurrentDownloads ?? 3,
    progress: options.progress,
    signal: options.signal,
    userAgent: userAgent(version),
  };
  if (options.allTags && !isNameOnly(parsed)) throw new InvalidArgument('tag can only be used with --all-tags/-a');
  if (options.allTags) {
    const client = new RegistryClient({
      endpoints: registryEndpoints(parsed.domain, registry, 'pull'),
      auth: options.auth,
      userAgent: common.userAgent,
    });
    await client.ping(options.signal);
    const tags = await client.listTags(parsed.path, options.signal);
    if (tags.length === 0) throw new NotFound(`no tags found for ${familiarName(parsed)}`);
    const out: TransferredImage[] = [];
    let changed = false;
    for (const tag of tags) {
      const reference = { domain: parsed.domain, path: parsed.path, tag };
      const result = await pullImage(store, { ...common, reference, client });
      options.progress({ status: `Digest: ${result.digest}` });
      changed ||= result.changed;
      out.push({ id: result.id, name: familiarString(reference) });
    }
    options.progress({ status: `Status: ${changed ? 'Downloaded newer image for' : 'Image is up to date for'} ${familiarName(parsed)}` });
    return out;
  }
  const reference = normalizeReference(parsed);
  const result = await pullImage(store, { ...common, reference });
  options.progress({ status: `Digest: ${result.digest}` });
  options.progress({
    status: `Status: ${result.changed ? 'Downloaded newer image for' : 'Image is up to date for'} ${familiarString(reference)}`,
  });
  return [{ id: result.id, name: familiarString(reference) }];
}

/**
 * `docker push` as dockerd answers it: the tag named, or every tag of the repository
 * when the name has none; after each, `<tag>: digest: sha256:… size: N` and the aux
 * record `{Tag, Digest, Size}` the docker CLI reads.
 */
export async function pushImages(
  store: ImageStore,
  name: string,
  options: PushOptions,
  registry: RegistryConfig,
  version: string,
): Promise<TransferredImage[]> {
  const parsed = parseReference(name);
  if (parsed.digest !== undefined) throw new InvalidArgument(`cannot push a digest reference: ${familiarString(parsed)}`);
  const tags =
    parsed.tag !== undefined
      ? [parsed.tag]
      : store
          .repository(referenceName(parsed))
          .map((r) => r.reference.tag)
          .filter((t): t is string => t !== undefined);
  if (tags.length === 0) throw new NotFound(`An image does not exist locally with the tag: ${familiarName(parsed)}`);
  const out: TransferredImage[] = [];
  for (const tag of tags) {
    const reference = { domain: parsed.domain, path: parsed.path, tag };
    const result = await pushImage(store, {
      reference,
      hosts: registry,
      auth: options.auth,
      maxConcurrentUploads: registry.maxConcurrentUploads ?? 5,
      progress: options.progress,
      signal: options.signal,
      userAgent: userAgent(version),
    });
    options.progress({ status: `${result.tag}: digest: ${result.digest} size: ${result.size}` });
    options.progress({ progressDetail: {}, aux: { Tag: result.tag, Digest: result.digest, Size: result.size } });
    out.push({ id: store.resolve(familiarString(reference)), name: familiarString(reference) });
  }
  return out;
}

/**
 * `docker login`: the registry `auth.serveraddress` names (Docker Hub when none) asked
 * to accept the credentials. `{Status: "Login Succeeded"}`, with the identity token a
 * token server gave; Unauthorized with the registry's refusal otherwise.
 */
export async function loginRegistry(
  auth: RegistryAuth,
  registry: RegistryConfig,
  version: string,
): Promise<{ Status: string; IdentityToken?: string }> {
  const domain = registryDomain(auth.serveraddress);
  const client = new RegistryClient({ endpoints: registryEndpoints(domain, registry, 'push'), auth, userAgent: userAgent(version) });
  const { identityToken } = await client.login();
  return identityToken ? { Status: 'Login Succeeded', IdentityToken: identityToken } : { Status: 'Login Succeeded' };
}

/** `https://index.docker.io/v1/`, `127.0.0.1:5000`, `http://r.example:5000/` → the registry's domain as references name it. */
export function registryDomain(serverAddress: string | undefined): string {
  if (!serverAddress) return defaultDomain;
  let host = serverAddress.trim();
  host = host.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  if (host === '' || host === 'index.docker.io' || host === 'registry-1.docker.io' || host === 'docker.io') return defaultDomain;
  return host;
}

function userAgent(version: string): string {
  return `berth/${version}`;
}
