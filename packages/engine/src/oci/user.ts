import { InvalidArgument } from '@berth/core';
import { readFileInRoot } from './resolve-in-root.js';

/**
 * Who the container's process runs as, from Docker's `-u` forms — `name`, `uid`,
 * `name:group`, `uid:gid`, empty (root) — looked up in the image's own
 * /etc/passwd and /etc/group, read inside the rootfs (never the host's).
 *
 * The rules are Docker's (runc's user lookup):
 * - a numeric user is always a uid; one missing from passwd is fine (gid 0, home /);
 * - a user name missing from passwd is an error;
 * - with no group given, the primary group is the passwd entry's, and the
 *   supplementary groups are those of /etc/group that list the user by name;
 * - with a group given, it is the primary group and there are no supplementary groups
 *   from /etc/group;
 * - `GroupAdd` entries (names or numbers) are added as supplementary groups.
 */

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups, without the primary one, in the order found. */
  additionalGids: number[];
  /** The passwd entry's home, `/` when there is none. */
  home: string;
  /** The passwd entry's name, when there is one. */
  name?: string;
}

const MAX_ID = 2 ** 31 - 1;

/** /etc/passwd lines; malformed lines and comments are skipped, as libc does. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const uid = parseId(f[2] ?? '');
    const gid = parseId(f[3] ?? '');
    if (f.length < 4 || uid === undefined || gid === undefined) continue;
    out.push({ name: f[0] as string, uid, gid, home: f[5] ?? '', shell: f[6] ?? '' });
  }
  return out;
}

/** /etc/group lines; malformed lines and comments are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const gid = parseId(f[2] ?? '');
    if (f.length < 3 || gid === undefined) continue;
    const members = (f[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter((m) => m !== '');
    out.push({ name: f[0] as string, gid, members });
  }
  return out;
}

function parseId(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

function numeric(s: string, what: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  if (n > MAX_ID) throw new InvalidArgument(`invalid ${what} ${s}: uids and gids must be in range 0-${MAX_ID}`);
  return n;
}

/**
 * Resolve a `-u` value against parsed passwd and group files (undefined = the file
 * does not exist, which is treated as empty). Pure; see `resolveUser` for the rootfs.
 */
export function resolveUserFromEntries(
  userSpec: string,
  passwd: readonly PasswdEntry[] = [],
  groups: readonly GroupEntry[] = [],
  groupAdd: readonly string[] = [],
): ResolvedUser {
  const spec = userSpec.trim();
  const colon = spec.indexOf(':');
  const userArg = colon < 0 ? spec : spec.slice(0, colon);
  const groupArg = colon < 0 ? '' : spec.slice(colon + 1);

  const out: ResolvedUser = { uid: 0, gid: 0, additionalGids: [], home: '/' };
  const uidArg = userArg === '' ? 0 : numeric(userArg, 'user');
  const entry = uidArg !== undefined ? passwd.find((p) => p.uid === uidArg) : passwd.find((p) => p.name === userArg);
  if (entry) {
    out.uid = entry.uid;
    out.gid = entry.gid;
    out.home = entry.home || '/';
    out.name = entry.name;
  } else if (uidArg !== undefined) {
    out.uid = uidArg;
  } else {
    throw new InvalidArgument(`unable to find user ${userArg}: no matching entries in passwd file`);
  }

  if (groupArg !== '') {
    out.gid = lookupGroup(groupArg, groups);
  } else if (out.name !== undefined) {
    const name = out.name;
    for (const g of groups) {
      if (g.members.includes(name)) addGid(out, g.gid);
    }
  }
  for (const extra of groupAdd) addGid(out, lookupGroup(extra.trim(), groups));
  return out;
}

function lookupGroup(arg: string, groups: readonly GroupEntry[]): number {
  const gid = numeric(arg, 'group');
  if (gid !== undefined) return gid;
  const found = groups.find((g) => g.name === arg);
  if (!found) throw new InvalidArgument(`unable to find group ${arg}: no matching entries in group file`);
  return found.gid;
}

function addGid(user: ResolvedUser, gid: number): void {
  if (gid !== user.gid && !user.additionalGids.includes(gid)) user.additionalGids.push(gid);
}

/**
 * Resolve a `-u` value against the rootfs's /etc/passwd and /etc/group, both read
 * inside `rootfs` (a symlink to the host's file resolves inside the root).
 */
export async function resolveUser(rootfs: string, userSpec: string, groupAdd: readonly string[] = []): Promise<ResolvedUser> {
  const [passwdText, groupText] = await Promise.all([readFileInRoot(rootfs, '/etc/passwd'), readFileInRoot(rootfs, '/etc/group')]);
  return resolveUserFromEntries(
    userSpec,
    passwdText === undefined ? [] : parsePasswd(passwdText),
    groupText === undefined ? [] : parseGroup(groupText),
    groupAdd,
  );
}
