import { execFileSync, spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';

/** A network namespace of the test's own: a `sleep` in `unshare --net`, ended by `close`. */
export interface TestNetns {
  path: string;
  /** Run `ip <args>` inside; returns its stdout. */
  ip(args: string[]): string;
  close(): void;
}

export async function testNetns(): Promise<TestNetns> {
  const child = spawn('unshare', ['--net', 'sleep', '60'], { stdio: 'ignore' });
  const path = `/proc/${child.pid}/ns/net`;
  const ours = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 200; i++) {
    try {
      if (readlinkSync(path) !== ours) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 10));
  }
  if (readlinkSync(path) === ours) {
    child.kill('SIGKILL');
    throw new Error('unshare --net never made a namespace');
  }
  return {
    path,
    ip: (args) => execFileSync('nsenter', [`--net=${path}`, 'ip', ...args], { encoding: 'utf8' }),
    close: () => child.kill('SIGKILL'),
  };
}

/** Whether a link of that name exists in the host's namespace. */
export function hostHasLink(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
