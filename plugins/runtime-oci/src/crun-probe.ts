import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const cgroup2SuperMagic = 0x63677270;

/** Where a hybrid host mounts its cgroup2 hierarchy, beside the v1 controllers. */
export const hybridCgroup2Mount = '/sys/fs/cgroup/unified';

/** cgroup v1 controllers at /sys/fs/cgroup/<c> with a cgroup2 mount at /sys/fs/cgroup/unified. */
export function isCgroupHybrid(): boolean {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return false;
  try {
    return statfsSync('/sys/fs/cgroup/unified').type === cgroup2SuperMagic;
  } catch {
    return false;
  }
}

/**
 * Run a do-nothing container (the host's / read-only, a mount namespace, /bin/true) with
 * the runtime, to learn whether it works on this host at all. Returns null when it does,
 * else the runtime's error message. Works in a temporary directory under `workDir`. About
 * 10 ms with crun; only done on hybrid hosts, where crun 1.8 refuses everything unless it
 * runs without the cgroup2 mount. `wrapper` (e.g. `berth-shim --hide-mount P --run`) is
 * put in front of each runtime command, to probe the runtime as it would then be run.
 */
export function probeRuntime(binary: string, workDir: string, wrapper: string[] = []): Promise<string | null> {
  mkdirSync(workDir, { recursive: true });
  const dir = mkdtempSync(path.join(workDir, 'probe-'));
  const id = `berth-probe-${process.pid}-${Date.now()}`;
  const config = {
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['/bin/true'], cwd: '/', env: ['PATH=/usr/bin:/bin'] },
    root: { path: '/', readonly: true },
    mounts: [],
    linux: { namespaces: [{ type: 'mount' }] },
  };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const root = path.join(dir, 'state');
  const [file, ...pre] = [...wrapper, binary];
  return new Promise((resolve) => {
    execFile(file!, [...pre, '--root', root, 'run', '--bundle', dir, id], { encoding: 'utf8', timeout: 10_000 }, (err, _stdout, stderr) => {
      execFile(file!, [...pre, '--root', root, 'delete', '--force', id], () => {
        rmSync(dir, { recursive: true, force: true });
        if (!err) resolve(null);
        else resolve(stderr.trim().split('\n').pop() || err.message);
      });
    });
  });
}
