import { promises as fs, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** The group that may use the socket, as dockerd's `docker` group. */
export const socketGroup = 'berth';

/** The gid of `name` from /etc/group, or undefined when there is no such group. */
export function groupId(name: string, groupFile = '/etc/group'): number | undefined {
  let text: string;
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}

/** True when something accepts connections on `socketPath` (a daemon too busy to accept within the timeout counts). */
export function acceptsConnections(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection(socketPath);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(true), timeoutMs); // a daemon too busy to accept is still a daemon
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * Makes `socketPath` ready to bind: its directory exists, and a socket file left by a
 * daemon that died is removed — unless something still accepts connections on it,
 * which means another berthd is running there.
 */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  await fs.mkdir(path.dirname(socketPath), { recursive: true, mode: 0o755 });
  let stat: Awaited<ReturnType<typeof fs.lstat>>;
  try {
    stat = await fs.lstat(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!stat.isSocket()) throw new Error(`${socketPath} exists and is not a socket; remove it or choose another -H`);
  if (await acceptsConnections(socketPath)) throw new Error(`another berthd is listening on ${socketPath}`);
  await fs.rm(socketPath, { force: true });
}

/**
 * Binds with a umask that leaves the new socket owner-only, so there is no moment when
 * others could connect; then hands it to root:berth 0660 (root:root when the group does
 * not exist). `bind` runs inside the synchronous part of `listen` for a path, which is
 * why the process-wide umask can be set and restored around it.
 */
export async function bindSocket(socketPath: string, listen: () => Promise<void>): Promise<{ gid: number | undefined }> {
  const old = process.umask(0o177);
  let listening: Promise<void>;
  try {
    listening = listen();
  } finally {
    process.umask(old);
  }
  await listening;
  const gid = groupId(socketGroup);
  await fs.chown(socketPath, 0, gid ?? 0);
  await fs.chmod(socketPath, 0o660);
  return { gid };
}

/** Removes a socket file we created; a file that is already gone is fine. */
export async function removeSocket(socketPath: string): Promise<void> {
  await fs.rm(socketPath, { force: true });
}
