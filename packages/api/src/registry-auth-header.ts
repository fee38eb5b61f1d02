import { InvalidArgument, type RegistryAuth } from '@berth/core';

/**
 * The `X-Registry-Auth` header of a pull or push: base64url (or plain base64) of a JSON
 * AuthConfig (`{"username","password","serveraddress"}`, or `identitytoken`). Absent,
 * empty or `e30=` (`{}`, the CLI's "not logged in") is no credentials. A header that is
 * not such JSON is refused by name, as dockerd does, rather than silently dropped.
 */
export function decodeRegistryAuthHeader(header: string | string[] | undefined): RegistryAuth | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined || raw.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(raw.trim(), 'base64url').toString('utf8'));
  } catch {
    throw new InvalidArgument('invalid X-Registry-Auth header: not base64-encoded JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgument('invalid X-Registry-Auth header: expected a JSON object');
  }
  return registryAuthOf(value as Record<string, unknown>);
}

/** The credential fields of an AuthConfig object (the header's, or `POST /auth`'s body); undefined when it has none. */
export function registryAuthOf(value: Record<string, unknown>): RegistryAuth | undefined {
  const auth: RegistryAuth = {};
  for (const key of ['username', 'password', 'identitytoken', 'registrytoken', 'serveraddress'] as const) {
    const v = value[key] ?? value[key[0]!.toUpperCase() + key.slice(1)];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string') throw new InvalidArgument(`invalid registry credentials: ${key} must be a string`);
    auth[key] = v;
  }
  // docker-py sends `auth` (base64 user:password) in some versions instead of the two fields.
  if (auth.username === undefined && typeof value.auth === 'string' && value.auth !== '') {
    const decoded = Buffer.from(value.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      auth.username = decoded.slice(0, colon);
      auth.password = decoded.slice(colon + 1);
    }
  }
  return Object.keys(auth).length ? auth : undefined;
}
