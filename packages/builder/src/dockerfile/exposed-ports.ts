/**
 * EXPOSE's port specs as Docker reads them (`80`, `80/udp`, `8000-8010/tcp`, even
 * `127.0.0.1:8080:80`, whose host part EXPOSE ignores) into the image config's
 * ExposedPorts keys (`80/tcp`), ranges expanded. Throws an Error with Docker's words
 * (`invalid proto: foo`, `invalid containerPort: x`).
 */
export function exposedPortKeys(spec: string): string[] {
  const parts = spec.split(':');
  const containerPart = parts[parts.length - 1]!;
  const slash = containerPart.indexOf('/');
  const port = slash < 0 ? containerPart : containerPart.slice(0, slash);
  let proto = slash < 0 ? 'tcp' : containerPart.slice(slash + 1);
  if (port === '') throw new Error(`no port specified: ${spec}<empty>`);
  if (proto === '') proto = 'tcp';
  proto = proto.toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') throw new Error(`invalid proto: ${proto}`);
  const m = /^(\d+)(?:-(\d+))?$/.exec(port);
  const first = m ? Number(m[1]) : Number.NaN;
  const last = m?.[2] !== undefined ? Number(m[2]) : first;
  if (!m || first > 65535 || last > 65535 || last < first) throw new Error(`invalid containerPort: ${port}`);
  const keys: string[] = [];
  for (let p = first; p <= last; p++) keys.push(`${p}/${proto}`);
  return keys;
}
