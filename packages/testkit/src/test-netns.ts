import { execFileSync, spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';

/**
 * A network namespace of a test's own: a `sleep` started by `unshare --net`, which holds
 * the namespace until `close` (or until the sleep ends, so a test killed before its
 * clean-up leaves nothing for long). Only `lo` is in it, down.
 */
export interface TestNetns {
  /** The sleeping process that holds the namespace. */
  pid: number;
  /** `/proc/<pid>/ns/net`: what a driver's attach or `nsenter --net=` takes. */
  path: string;
  /** Run a command inside (`nsenter --net`); its stdout, or a throw with its stderr. */
  exec(args: string[]): string;
  /** Whether a command inside exits 0. */
  ok(args: string[]): boolean;
  /** `ip <args>` inside; its stdout. */
  ip(args: string[]): string;
  close(): void;
}

/** Make a namespace (`lifetimeSeconds`: how long its holder sleeps, 300 by default); resolves once it exists. */
export async function testNetns(lifetimeSeconds = 300): Promise<TestNetns> {
  const child = spawn('unshare', ['--net', 'sleep', String(lifetimeSeconds)], { stdio: 'ignore' });
  const pid = child.pid!;
  const path = `/proc/${pid}/ns/net`;
  const ours = readlinkSync('/proc/self/ns/net');
  // unshare execs sleep once the namespace exists: wait until the path is a namespace of its own.
  const own = () => {
    try {
      return readlinkSync(path) !== ours;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 300 && !own(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!own()) {
    child.kill('SIGKILL');
    throw new Error('unshare --net never made a namespace');
  }
  const exec = (args: string[]) =>
    execFileSync('nsenter', [`--net=${path}`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return {
    pid,
    path,
    exec,
    ok(args) {
      try {
        exec(args);
        return true;
      } catch {
        return false;
      }
    },
    ip: (args) => exec(['ip', ...args]),
    close: () => child.kill('SIGKILL'),
  };
}
