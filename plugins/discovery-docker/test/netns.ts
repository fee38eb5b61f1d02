import { execFileSync } from 'node:child_process';

export { type TestNetns, testNetns } from '@berth/testkit';

/** Whether a link of that name exists in the host's namespace. */
export function hostHasLink(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
