/** One challenge of a `WWW-Authenticate` header: `Bearer realm="…",service="…"`. */
export interface AuthChallenge {
  /** Lowercased: `bearer`, `basic`. */
  scheme: string;
  /** Parameter names lowercased, values unquoted. */
  params: Record<string, string>;
}

/**
 * The challenges of a `WWW-Authenticate` header (RFC 7235): a scheme, then
 * comma-separated `name=value` parameters, values quoted (with `\` escapes) or bare; a
 * header may carry several challenges, each starting with a scheme not followed by `=`.
 * A registry answers 401 with one; what cannot be parsed is left out rather than guessed.
 */
export function parseWwwAuthenticate(header: string | string[] | undefined): AuthChallenge[] {
  if (header === undefined) return [];
  if (Array.isArray(header)) return header.flatMap((h) => parseWwwAuthenticate(h));
  const out: AuthChallenge[] = [];
  let i = 0;
  const s = header;
  const skipSpaces = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z/]/.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  let current: AuthChallenge | undefined;
  while (i < s.length) {
    skipSpaces();
    if (s[i] === ',') {
      i++;
      continue;
    }
    const token = readToken();
    if (token === '') {
      i++; // a stray character: skip it
      continue;
    }
    skipSpaces();
    if (s[i] === '=' && current) {
      i++;
      skipSpaces();
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++; // the closing quote
      } else {
        const start = i;
        while (i < s.length && s[i] !== ',' && s[i] !== ' ') i++;
        value = s.slice(start, i);
      }
      current.params[token.toLowerCase()] = value;
    } else {
      current = { scheme: token.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}
