import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/**
 * A throw-away self-signed certificate and its key for a test's TLS server, made by
 * Debian's openssl (set-up installs it) as `<dir>/<name>-cert.pem` and `<dir>/<name>-key.pem`:
 * RSA 2048, valid a day, for `subject` (a CN) and, when given, an IP subjectAltName (what
 * a client checks against https://127.0.0.1:PORT).
 */
export function selfSignedCertificate(dir: string, name: string, subject: { cn: string; ip?: string }): { cert: string; key: string } {
  const cert = path.join(dir, `${name}-cert.pem`);
  const key = path.join(dir, `${name}-key.pem`);
  // biome-ignore format: openssl's flags and values, read as pairs
  const args = [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${subject.cn}`,
  ];
  if (subject.ip) args.push('-addext', `subjectAltName=IP:${subject.ip}`);
  execFileSync('openssl', args, { stdio: 'ignore' });
  return { cert, key };
}
