import { closeSync, constants, readFileSync } from 'node:fs';
import { InvalidArgument } from '@berth/core';
import { openInRoot } from '@berth/native';

/** The numeric owner COPY/ADD give what they write. */
export interface Owner {
  uid: number;
  gid: number;
}

const maxId = 2 ** 32 - 2;

/**
 * The owner `--chown=<user>[:<group>]` names, as Docker's classic builder resolves it:
 * each part a number or a name looked up in the target's `/etc/passwd` / `/etc/group`
 * (read inside `targetRoot`, never through a symlink out of it); a missing group part
 * means the same string as a group (`--chown=10` is 10:10, `--chown=bin` needs a group
 * `bin`). No `--chown` (undefined or empty) is root, 0:0. An unknown name or a malformed
 * spec is an InvalidArgument naming it.
 */
export function resolveChown(spec: string | undefined, targetRoot: string): Owner {
  if (spec === undefined || spec === '') return { uid: 0, gid: 0 };
  const parts = spec.split(':');
  if (parts.length > 2 || parts.some((p) => p === '')) throw new InvalidArgument(`invalid chown string format: ${spec}`);
  const user = parts[0]!;
  const group = parts[1] ?? user;
  return { uid: lookup(user, 'passwd', targetRoot), gid: lookup(group, 'group', targetRoot) };
}

function lookup(name: string, database: 'passwd' | 'group', targetRoot: string): number {
  if (/^[0-9]+$/.test(name)) {
    const id = Number(name);
    if (id > maxId) throw new InvalidArgument(`invalid ${database === 'passwd' ? 'uid' : 'gid'}: ${name}`);
    return id;
  }
  const what = database === 'passwd' ? `uid for user ${name}` : `gid for group ${name}`;
  const text = readInRoot(targetRoot, `/etc/${database}`);
  if (text === undefined) throw new InvalidArgument(`can't find ${what}: no /etc/${database} in the image`);
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields.length >= 3 && /^[0-9]+$/.test(fields[2]!)) return Number(fields[2]);
  }
  throw new InvalidArgument(`can't find ${what}`);
}

function readInRoot(root: string, p: string): string | undefined {
  let fd: number;
  try {
    fd = openInRoot(root, p, constants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
