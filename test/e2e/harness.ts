import { type ChildProcess, execFile, execFileSync } from 'node:child_process';
import { existsSync, promises as fs, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { suiteTimeout } from '@berth/testkit/timeout';
import { suite, type Test } from 'uvu';
import * as assert from 'uvu/assert';
import { childEnv, spawnBerthd, waitForBerthd } from './berthd-process';
import { cleanUpNetwork, type DaemonNetwork, daemonNetwork } from './network-isolation';

/** The repository root, where bin/berth and bin/berthd live. */
export const repo = path.resolve(__dirname, '../..');
export const busyboxTar = path.join(repo, 'test/fixtures/.cache/busybox.tar');
const dockerCli = '/usr/local/bin/docker';

let driversOfHost: string[] | undefined;

/**
 * The storage drivers the e2e suite runs its driver-sensitive tests under: every one this
 * host supports. Only what the driver of a container's root takes part in runs once per
 * driver: filesystem.test.ts (diff, export, commit, cp: the driver's changes and mounts of
 * a stopped container), storage-drivers.test.ts (exec into the running root, volumes
 * beside the layer, berthd kill -9 under a running root, stop/start keeping the layer,
 * `--storage-opt size=`) and the rootfs part of containers.test.ts (the image's root and
 * none of the host's, a read-only root, user and working directory looked up in the root,
 * a bind mount's mount point made in it, a background container stopped and removed). The
 * rest of the e2e suite runs on one driver: its outcome is the engine's and the runtime's
 * whatever backs the root, and each driver's own contract is its conformance suite's
 * (@berth/testkit's storageDriverSuite, run for every driver by its package). overlay and
 * vfs always (where overlay cannot work, berthd's start fails the suite: never a silent
 * skip); btrfs where `mkfs.btrfs` is installed (the data root is a loop-mounted btrfs of
 * the suite's own); fuse where its plugin (@berth/storage-fuse) is installed and
 * /dev/fuse exists. A driver left out is said once on stderr, with why.
 */
export function storageDriversOfHost(): string[] {
  if (driversOfHost) return driversOfHost;
  const drivers = ['overlay', 'vfs'];
  const leftOut: string[] = [];
  const onPath = (program: string) =>
    (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((dir) => existsSync(path.join(dir, program)));
  if (onPath('mkfs.btrfs')) drivers.push('btrfs');
  else leftOut.push('btrfs (no mkfs.btrfs: install btrfs-progs)');
  // Installed: the workspace (or a dependency) links it into the repository's node_modules.
  const fusePlugin = existsSync(path.join(repo, 'node_modules/@berth/storage-fuse/package.json'));
  if (fusePlugin && existsSync('/dev/fuse')) drivers.push('fuse');
  else leftOut.push(`fuse (${fusePlugin ? 'no /dev/fuse' : 'its plugin @berth/storage-fuse is not installed'})`);
  if (leftOut.length) console.error(`e2e: container tests run under ${drivers.join(', ')}; not under ${leftOut.join('; ')}`);
  driversOfHost = drivers;
  return drivers;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A berthd of its own for a test suite: a fresh data root, exec root, socket and cgroup
 * parent under /tmp, so suites never share state with each other or with a host daemon.
 */
export class TestDaemon {
  readonly dir: string;
  readonly socket: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly cgroupParent: string;
  readonly network: DaemonNetwork;
  private proc: ChildProcess | undefined;
  private logs = '';
  /** btrfs: the loop device of the btrfs image the data root is mounted from. */
  private loopDevice: string | undefined;

  /** `storageDriver`: the driver berthd is started with; a test that migrates the data root sets the new one before the next start. */
  constructor(public storageDriver: string) {
    this.dir = mkdtempSync(`/tmp/berth-e2e-${storageDriver}-`);
    this.socket = path.join(this.dir, 'berthd.sock');
    this.dataRoot = path.join(this.dir, 'data');
    this.execRoot = path.join(this.dir, 'exec');
    this.cgroupParent = `berth-e2e-${path.basename(this.dir).slice(-6)}`;
    this.network = daemonNetwork('be2e', path.basename(this.dir).slice(-6));
    if (storageDriver === 'btrfs') this.mountBtrfsDataRoot();
  }

  /**
   * The btrfs driver needs a data root on btrfs: a sparse 2 GiB image in the suite's
   * directory, made with mkfs.btrfs, loop-mounted on the data root (undone by destroy).
   */
  private mountBtrfsDataRoot(): void {
    const image = path.join(this.dir, 'btrfs.img');
    execFileSync('truncate', ['-s', '2G', image]);
    execFileSync('mkfs.btrfs', ['-q', image], { stdio: 'ignore' });
    this.loopDevice = execFileSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).trim();
    mkdirSync(this.dataRoot);
    execFileSync('mount', ['-t', 'btrfs', this.loopDevice, this.dataRoot]);
  }

  get host(): string {
    return `unix://${this.socket}`;
  }

  /** Start berthd and wait until it answers `/_ping`. */
  async start(extraArgs: string[] = []): Promise<void> {
    const proc = spawnBerthd(this, 'warn', extraArgs);
    this.proc = proc;
    proc.stdout?.on('data', (d) => (this.logs += d));
    proc.stderr?.on('data', (d) => (this.logs += d));
    await waitForBerthd(proc, this.socket, 20_000, () => this.logs);
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Kill berthd with a signal and wait for it to go. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill(signal);
    await gone;
    this.proc = undefined;
  }

  daemonLogs(): string {
    return this.logs;
  }

  berth(args: string[], input?: string): Promise<CommandResult> {
    return run(path.join(repo, 'bin/berth'), args, { BERTH_HOST: this.host }, input);
  }

  docker(args: string[], input?: string | Buffer): Promise<CommandResult> {
    return run(dockerCli, args, { DOCKER_HOST: this.host, DOCKER_CONFIG: path.join(this.dir, 'docker-config') }, input);
  }

  /** A `docker` (or `berth`) command that must succeed: its stdout, trimmed; a failed assertion with its stderr otherwise. */
  async ok(args: string[], cli: 'docker' | 'berth' = 'docker'): Promise<string> {
    const r = cli === 'docker' ? await this.docker(args) : await this.berth(args);
    assert.is(r.code, 0, `${cli} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  }

  /** A raw HTTP request to the daemon's socket. */
  request(method: string, urlPath: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.socket);
      let data = '';
      socket.on('data', (d) => (data += d));
      socket.on('error', reject);
      socket.on('end', () => {
        const status = Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0);
        const text = data.slice(data.indexOf('\r\n\r\n') + 4);
        resolve({ status, body: decodeChunked(data, text) });
      });
      const h = {
        Host: 'berth',
        Connection: 'close',
        ...headers,
        ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}),
      };
      socket.write(
        `${method} ${urlPath} HTTP/1.1\r\n${Object.entries(h)
          .map(([k, v]) => `${k}: ${v}`)
          .join('\r\n')}\r\n\r\n${body ?? ''}`,
      );
    });
  }

  /**
   * Remove every container, stop berthd, check nothing is left in the kernel (networks
   * the tests made and did not remove count as left), delete the directory.
   */
  async destroy(): Promise<string[]> {
    const leaks: string[] = [];
    if (this.proc) {
      const ids = (await this.berth(['ps', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
      if (ids.length) await this.berth(['rm', '-f', ...ids]);
      const networks = (await this.berth(['network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}}'])).stdout
        .split('\n')
        .filter(Boolean);
      for (const n of networks) leaks.push(`network ${n}`);
      if (networks.length) await this.berth(['network', 'rm', ...networks]);
      await this.kill('SIGTERM');
    }
    leaks.push(...this.leaks(), ...cleanUpNetwork(this.network));
    for (const pid of resolverPids(this.dir)) process.kill(pid, 'SIGKILL');
    // Clean up even what leaked, so one failing suite does not poison the next.
    for (const m of mountsUnder(this.dir).reverse()) await run('umount', ['-l', m], {});
    // The btrfs image's loop device, by device, whatever happened before.
    if (this.loopDevice) await run('losetup', ['-d', this.loopDevice], {});
    await fs.rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
    return leaks;
  }

  /** Kernel resources this daemon's containers could have left: mounts, cgroups, shims (network objects: cleanUpNetwork). */
  leaks(): string[] {
    const found: string[] = [];
    for (const m of mountsUnder(this.dir)) if (!(this.loopDevice && m === this.dataRoot)) found.push(`mount ${m}`);
    // While berthd runs its parent cgroup may exist, with the cgroup its shims move into
    // (`shims`: live shims are counted below); containers' cgroups may not. Once it has
    // stopped, the parent must be gone too.
    const running = !!this.proc && this.proc.exitCode === null;
    for (const c of cgroupDirs(this.cgroupParent)) {
      if (!running) found.push(`cgroup ${c}`);
      else for (const child of childCgroups(c)) if (path.basename(child) !== 'shims') found.push(`cgroup ${child}`);
    }
    for (const pid of shimPids(this.dir)) found.push(`berth-shim pid ${pid}`);
    // The embedded DNS server's process stops with berthd once no container needs it.
    if (!running) for (const pid of resolverPids(this.dir)) found.push(`DNS resolver pid ${pid}`);
    return found;
  }
}

export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)));
}

/** Cgroup directories named by a parent, in every v1 hierarchy and in v2. */
export function cgroupDirs(parent: string): string[] {
  const found: string[] = [];
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
    const p = path.join('/sys/fs/cgroup', hierarchy, parent);
    if (existsSync(p)) found.push(p);
  }
  if (existsSync(path.join('/sys/fs/cgroup', parent))) found.push(path.join('/sys/fs/cgroup', parent));
  return found;
}

function childCgroups(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(dir, e.name));
  } catch {
    return [];
  }
}

/** Pids of the processes in a container's cgroups (a cgroup path naming its id), its shim not among them. */
export function containerPids(id: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cgroup`, 'utf8').includes(id)) pids.push(Number(entry));
    } catch {
      // the process went away while we looked
    }
  }
  return pids;
}

/**
 * Wait until a container's processes have all ended (its command exited), whoever watches
 * it: what a test waits for after killing berthd when a container must end meanwhile.
 */
export async function containerEnded(id: string, timeoutMs = 20_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; containerPids(id).length > 0; await sleep(50)) {
    if (Date.now() > deadline)
      throw new Error(`container ${id.slice(0, 12)} still has processes ${containerPids(id).join(', ')} after ${timeoutMs} ms`);
  }
}

/** Pids of berth-shim processes whose arguments mention `dir`. */
export function shimPids(dir: string): number[] {
  return pidsOf(/berth-shim/, dir);
}

/** Pids of embedded DNS resolver processes (engine's dns/resolver-main) whose arguments mention `dir`. */
export function resolverPids(dir: string): number[] {
  return pidsOf(/resolver-main\.(js|ts)/, dir);
}

function pidsOf(program: RegExp, dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (program.test(cmd) && cmd.includes(dir)) pids.push(Number(entry));
    } catch {
      // the process went away while we looked
    }
  }
  return pids;
}

function decodeChunked(raw: string, body: string): string {
  if (!/transfer-encoding: chunked/i.test(raw.slice(0, raw.indexOf('\r\n\r\n')))) return body;
  let out = '';
  let rest = body;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 4 + size);
  }
}

export function run(cmd: string, args: string[], env: Record<string, string>, input?: string | Buffer): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: childEnv(env), maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

/**
 * The environment of a command the tests run: ours without NODE_OPTIONS, which makes
 * the tests resolve berth's packages from source and would make berthd try the same.
 */
/**
 * A uvu suite with its own berthd (busybox loaded, started with `options.args` after the
 * harness's own flags) that checks, after its tests, that nothing is left in the kernel. Its tests and hooks run under a 60 s limit each. uvu does not print errors thrown by hooks, so they are
 * printed here before being rethrown.
 */
export function daemonSuite(name: string, storageDriver: string, options: { args?: string[] } = {}): Test<{ daemon: TestDaemon }> {
  const test = suite<{ daemon: TestDaemon }>(name);
  // Each test drives real containers through the CLI (a command may take seconds on a
  // busy machine) and the before hook starts berthd and loads busybox: 60 s each.
  suiteTimeout(test, 60_000);
  test.before(async (ctx) => {
    try {
      ctx.daemon = new TestDaemon(storageDriver);
      await ctx.daemon.start(options.args);
      const loaded = await ctx.daemon.berth(['load', '-i', busyboxTar]);
      assert.is(loaded.code, 0, loaded.stderr);
    } catch (err) {
      console.error(`${name}: set-up failed:`, err, ctx.daemon?.daemonLogs());
      throw err;
    }
  });
  test.after(async (ctx) => {
    const leaks = await ctx.daemon.destroy();
    if (leaks.length) console.error(`${name}: leaked ${leaks.join(', ')}`);
    assert.equal(leaks, [], `leaked: ${leaks.join(', ')}`);
  });
  return test;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
