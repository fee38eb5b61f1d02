import type { Header } from 'tar';

let headerClass: typeof Header | undefined;

/**
 * npm tar's header codec, loaded on first use: requiring `tar` costs about 20 ms, which
 * a CLI that only parses references (and imports this package for it) should not pay.
 */
export function tarHeader(): typeof Header {
  headerClass ??= (require('tar') as typeof import('tar')).Header;
  return headerClass;
}
