import type { IncomingHttpHeaders } from 'node:http';

/**
 * The manifest media types a `GET`/`HEAD` of a manifest accepts, read from its `Accept`
 * headers (every header, each a comma-separated list; parameters ignored, as the
 * reference registry ignores them, except `q=0`, which HTTP defines as "not acceptable").
 *
 * A request without `Accept`, or with `*\/*` or `application/*`, accepts anything (HTTP's
 * meaning of both). The reference registry reads neither and refuses an OCI manifest to
 * such a request; berth serves it, since a client that names no type cannot be said to
 * refuse one (curl, and scripts that fetch a manifest by digest).
 *
 * Lifecycle: one per request, read-only.
 */
export class ManifestAccept {
  private constructor(
    private readonly types: ReadonlySet<string>,
    private readonly anything: boolean,
  ) {}

  static of(headers: IncomingHttpHeaders): ManifestAccept {
    const raw = headers.accept;
    // Node joins repeated Accept headers with ", "; an array comes only from a hand-built request.
    const value = Array.isArray(raw) ? raw.join(',') : raw;
    if (value === undefined || value.trim() === '') return new ManifestAccept(new Set(), true);
    const types = new Set<string>();
    let anything = false;
    for (const entry of value.split(',')) {
      const [type, ...params] = entry.split(';').map((part) => part.trim());
      if (!type) continue;
      const refused = params.some((p) => /^q\s*=\s*0(\.0{0,3})?$/i.test(p));
      if (refused) continue;
      const lower = type.toLowerCase();
      if (lower === '*/*' || lower === 'application/*') anything = true;
      else types.add(lower);
    }
    return new ManifestAccept(types, anything);
  }

  accepts(mediaType: string): boolean {
    return this.anything || this.types.has(mediaType.toLowerCase());
  }
}
