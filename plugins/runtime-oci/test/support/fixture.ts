import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { EventBus, type PluginContext, requiredPlugins, silentLogger } from '@berth/core';

/** Every container, cgroup and directory of these tests carries this prefix. */
export const prefix = 'bnat';

/** Docker's default capabilities of a container (the part the exec tests check). */
const dockerCaps = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_KILL', 'CAP_SETUID', 'CAP_SETGID', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT'];

const applets = ['sh', 'echo', 'true', 'sleep', 'cat', 'head', 'tr', 'printf'];

export interface BundleOptions {
  args: string[];
  pidNamespace?: boolean;
  memoryLimit?: number;
  /** `process.terminal`: the runtime makes a pty (create needs `terminal: true` too). */
  terminal?: boolean;
}

/** A scratch area for one test file: /tmp/berth-unit-rt-XXXXXX with bundles, state dirs and the runtime's exec root. */
export class Fixture {
  readonly dir = mkdtempSync('/tmp/berth-unit-rt-');
  readonly ids = new Set<string>();
  private counter = 0;

  constructor() {
    // The safety net for a suite whose after hook never ran (uvu swallows hook errors, and a
    // process may exit before the last hooks): whatever is left goes at exit.
    process.once('exit', () => {
      if (existsSync(this.dir)) this.cleanup();
    });
  }

  context(): PluginContext {
    const execRoot = path.join(this.dir, 'exec');
    mkdirSync(execRoot, { recursive: true });
    return {
      root: path.join(this.dir, 'data'),
      execRoot,
      dataRoot: this.dir,
      cgroupParent: prefix,
      config: {},
      events: new EventBus(),
      log: silentLogger,
      plugins: requiredPlugins('runtime/runc', [], () => undefined),
    };
  }

  newId(): string {
    const id = `${prefix}-${process.pid}-${++this.counter}`;
    this.ids.add(id);
    return id;
  }

  /** A bundle whose rootfs is busybox and a few applet links; config.json written here, not by runc spec. */
  bundle(id: string, opts: BundleOptions): string {
    const bundle = path.join(this.dir, 'bundles', id);
    const rootfs = path.join(bundle, 'rootfs');
    mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
    for (const d of ['proc', 'dev', 'tmp']) mkdirSync(path.join(rootfs, d));
    copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
    for (const a of applets) symlinkSync('busybox', path.join(rootfs, 'bin', a));
    const namespaces = ['mount', 'ipc', 'uts', 'network'];
    if (opts.pidNamespace !== false) namespaces.unshift('pid');
    const resources: Record<string, unknown> = {};
    if (opts.memoryLimit) {
      resources.memory = {
        limit: opts.memoryLimit,
        ...(existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') ? { swap: opts.memoryLimit } : {}),
      };
    }
    const config = {
      ociVersion: '1.0.2',
      process: {
        terminal: opts.terminal === true,
        user: { uid: 0, gid: 0 },
        args: opts.args,
        env: ['PATH=/bin', 'HOME=/'],
        cwd: '/',
        noNewPrivileges: true,
      },
      root: { path: 'rootfs', readonly: false },
      hostname: id.slice(0, 63),
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
        {
          destination: '/dev/pts',
          type: 'devpts',
          source: 'devpts',
          options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
        },
      ],
      linux: {
        namespaces: namespaces.map((type) => ({ type })),
        cgroupsPath: `/${prefix}/${id}`,
        resources,
      },
    };
    writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config, null, 2));
    return bundle;
  }

  /** The process of `id`'s bundle, as the engine would hand it to `exec` with other args. */
  execProcess(id: string, args: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
    const spec = JSON.parse(readFileSync(path.join(this.dir, 'bundles', id, 'config.json'), 'utf8'));
    return { ...spec.process, args, ...extra };
  }

  stateDir(id: string): string {
    return path.join(this.dir, 'state', id);
  }

  logPath(id: string): string {
    return path.join(this.dir, 'logs', `${id}.json`);
  }

  request(id: string, args: string[], extra: Partial<BundleOptions> & { openStdin?: boolean } = {}) {
    mkdirSync(path.join(this.dir, 'logs'), { recursive: true });
    return {
      id,
      bundle: this.bundle(id, { args, ...extra }),
      stateDir: this.stateDir(id),
      log: { format: 'json-file' as const, path: this.logPath(id) },
      openStdin: extra.openStdin ?? false,
      terminal: extra.terminal === true,
    };
  }

  /**
   * `request`'s bundle made as the engine makes a container's: Docker's default
   * capabilities, an RLIMIT_NOFILE, and (unless `seccomp` is false) a seccomp profile that
   * refuses mkdir, for the exec tests to see the container's confinement.
   */
  dockerLikeRequest(id: string, args: string[], options: { seccomp?: boolean; terminal?: boolean } = {}) {
    const req = this.request(id, args, { terminal: options.terminal });
    const file = path.join(req.bundle, 'config.json');
    const config = JSON.parse(readFileSync(file, 'utf8'));
    config.process.capabilities = { bounding: dockerCaps, effective: dockerCaps, permitted: dockerCaps };
    config.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }];
    if (options.seccomp !== false) {
      config.linux.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64'],
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
      };
    }
    writeFileSync(file, JSON.stringify(config));
    return req;
  }

  /** The pid of the shim of `id` (from its state dir), or null. */
  shimPid(id: string): number | null {
    try {
      return Number(readFileSync(path.join(this.stateDir(id), 'shim.pid'), 'utf8').trim());
    } catch {
      return null;
    }
  }

  /**
   * Remove what the tests made even if they failed: kill our containers and shims (by the
   * pids we know), delete runc state, remove our cgroups and the scratch directory.
   */
  cleanup(): void {
    const runcRoot = path.join(this.dir, 'exec', 'state');
    for (const id of this.ids) {
      for (const pid of [...shimPids(id)]) tryKill(pid);
      try {
        require('node:child_process').execFileSync('/usr/sbin/runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
      } catch {}
      // crun's state is in the same root; on a hybrid host crun runs without the cgroup2 mount.
      try {
        const shim = path.resolve(__dirname, '../../../../native/shim/berth-shim');
        const crun = ['/usr/bin/crun', '--root', runcRoot, 'delete', '--force', id];
        require('node:child_process').execFileSync(shim, ['--hide-mount', '/sys/fs/cgroup/unified', '--run', ...crun], { stdio: 'ignore' });
      } catch {}
    }
    for (const id of this.ids) for (const cg of cgroupDirs(id)) tryRmdir(cg);
    for (const cg of cgroupDirs('shims')) tryRmdir(cg);
    for (const cg of cgroupDirs(null)) tryRmdir(cg);
    // A shim just killed may still be writing its exit record here: retry ENOTEMPTY a while.
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
  }
}

/** Cgroup directories of our prefix (of one id, or the parent `bnat` dirs) across the v1 hierarchies and v2. */
export function cgroupDirs(id: string | null): string[] {
  const out: string[] = [];
  const rel = id ? path.join(prefix, id) : prefix;
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    const p = path.join('/sys/fs/cgroup', rel);
    if (existsSync(p)) out.push(p);
    return out;
  }
  for (const controller of readdirSync('/sys/fs/cgroup')) {
    const p = path.join('/sys/fs/cgroup', controller, rel);
    if (existsSync(p)) out.push(p);
  }
  return out;
}

/** Pids of berth-shim processes whose command line names container `id`. */
export function shimPids(id: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('berth-shim') && argv[argv.indexOf('--id') + 1] === id) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

/**
 * The shims of `id` still running after `ms` (default 1 s) of waiting for them to go: a
 * shim removes its pid file (what `delete` waits for) as its last act before it exits, so
 * it may still be in /proc for an instant after `delete` returned.
 */
export async function shimsLeft(id: string, ms = 1000): Promise<number[]> {
  const until = Date.now() + ms;
  let pids = shimPids(id);
  while (pids.length > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
    pids = shimPids(id);
  }
  return pids;
}

function tryKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
}

function tryRmdir(dir: string): void {
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      require('node:child_process').execFileSync('sleep', ['0.02']);
    }
  }
}

/** Collect a container's output by stream until the connection closes. */
export function collect(streams: import('@berth/core').ContainerStreams): {
  stdout: () => string;
  stderr: () => string;
  closed: Promise<void>;
} {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  streams.onOutput((c) => (c.stream === 'stdout' ? out : err).push(c.data));
  const closed = new Promise<void>((resolve) => streams.onClose(resolve));
  return { stdout: () => Buffer.concat(out).toString(), stderr: () => Buffer.concat(err).toString(), closed };
}

/** Whether `pid` has exited: gone, or a zombie its parent (init: shims detach) has yet to reap. */
function exited(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return true;
  }
}

/**
 * Whether `pid` (a shim) has exited within `ms`: a shim removes its shim.pid, which the
 * runtime waits for, as its last act, just before it exits.
 */
export async function processEnded(pid: number, ms = 1000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!exited(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  return exited(pid);
}
