import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InvalidArgument } from '@berth/core';
import bcrypt from 'bcryptjs';

/**
 * The users of an htpasswd file whose entries are bcrypt hashes (`htpasswd -B`), the only
 * kind the reference registry accepts too: MD5-crypt, SHA-1 and crypt(3) entries are
 * refused when the file is read, naming the line, rather than never matching.
 *
 * bcrypt is slow on purpose (tens of milliseconds a check). Basic auth sends the password
 * on every request, so a successful check is remembered (a SHA-256 of user, password and
 * hash: a changed file or password misses) and later requests cost a hash, not a bcrypt.
 */
export class Htpasswd {
  private readonly verified = new Set<string>();

  private constructor(private readonly users: ReadonlyMap<string, string>) {}

  /** Reads and checks `file`; throws InvalidArgument naming the file and line of a bad entry. */
  static load(file: string): Htpasswd {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new InvalidArgument(`cannot read htpasswd file ${file}: ${(err as Error).message}`);
    }
    return Htpasswd.parse(text, file);
  }

  static parse(text: string, source = 'htpasswd'): Htpasswd {
    const users = new Map<string, string>();
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new InvalidArgument(`${source}:${i + 1}: not a "user:hash" entry`);
      const hash = line.slice(colon + 1);
      if (!/^\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) {
        throw new InvalidArgument(
          `${source}:${i + 1}: the entry of "${line.slice(0, colon)}" is not a bcrypt hash (make it with htpasswd -B)`,
        );
      }
      users.set(line.slice(0, colon), hash);
    });
    return new Htpasswd(users);
  }

  get size(): number {
    return this.users.size;
  }

  /** True when `user` exists and `password` is theirs. */
  async verify(user: string, password: string): Promise<boolean> {
    const hash = this.users.get(user);
    if (hash === undefined) return false;
    const key = createHash('sha256').update(user).update('\0').update(password).update('\0').update(hash).digest('hex');
    if (this.verified.has(key)) return true;
    // Apache writes $2y$, the same algorithm as $2b$ under another name.
    const ok = await bcrypt.compare(password, hash.replace(/^\$2y\$/, '$2b$'));
    if (ok) this.verified.add(key);
    return ok;
  }
}
