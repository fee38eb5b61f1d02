import * as path from 'node:path';

/**
 * Go's `filepath.Clean` on a slash-separated path: `.` and empty components dropped,
 * `..` applied lexically, no trailing slash, `.` for an empty result. Docker cleans
 * `.dockerignore` patterns and COPY sources this way, so berth must agree on every name.
 */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const normalized = path.posix.normalize(p);
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}
