import type { ChildProcess } from 'node:child_process';
import { existsSync, promises as fs, mkdtempSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { spawnBerthd, waitForBerthd } from '../e2e/berthd-process';
import { type CommandResult, cgroupDirs, mountsUnder, resolverPids, run, shimPids, sleep } from '../e2e/harness';
import { cleanUpNetwork, type DaemonNetwork, daemonNetwork } from '../e2e/network-isolation';

const dockerCli = '/usr/local/bin/docker';
/** How many of berthd's log lines are kept for a violation's context. */
const logRing = 400;

/** A log line that, when berthd prints it, makes the harness SIGKILL berthd at once. */
export interface KillTrigger {
  name: string;
  pattern: RegExp;
}

/**
 * A berthd the harness may SIGKILL at any instant and start again on the same data
 * root, as many times as it likes. Everything it makes is named for the harness: the
 * directory `mkdtemp /tmp/<prefix>-XXXXXX` (data root, exec root, socket, docker
 * config, fixtures), the cgroup parent `<prefix>-<suffix>`. The prefix is
 * `berth-e2e-crash`, which the test runner's machine leak check covers; a soak running
 * beside the tests takes one of its own (`bench/crash-soak.ts --prefix`).
 *
 * Lifecycle: `start()` → (`kill()` or a trigger armed with `killOn()` → `start()`)* →
 * `destroy()`, which removes the containers, stops berthd, reports what the kernel still
 * holds, and then cleans it up by pid and path (never by name), pass or fail.
 *
 * berthd runs at `--log-level debug` so that its log says where it is (`container
 * created` by the runtime, `container started`, ...): a trigger kills from the line's
 * data handler, synchronously, a fraction of a millisecond after berthd wrote it.
 */
export class CrashDaemon {
  readonly dir: string;
  readonly socket: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly cgroupParent: string;
  readonly network: DaemonNetwork;
  /** The daemon's default runtime (`runc` or `crun`), as `docker info` tells it once berthd first answered. */
  runtime = 'runc';
  /** How many times berthd was started on this data root. */
  starts = 0;
  private proc: ChildProcess | undefined;
  private lines: string[] = [];
  private partial = '';
  private trigger: { trigger: KillTrigger; fired: (line: string) => void } | undefined;

  constructor(
    readonly storageDriver = 'overlay',
    prefix = 'berth-e2e-crash',
  ) {
    this.dir = mkdtempSync(`/tmp/${prefix}-`);
    this.socket = path.join(this.dir, 'berthd.sock');
    this.dataRoot = path.join(this.dir, 'data');
    this.execRoot = path.join(this.dir, 'exec');
    this.cgroupParent = `${prefix}-${path.basename(this.dir).slice(-6)}`;
    this.network = daemonNetwork('bcrash', path.basename(this.dir).slice(-6));
  }

  /** The default runtime's `--root` as runtime-oci keeps it: `<exec-root>/runtime/<runtime>/state`. */
  get runcRoot(): string {
    return path.join(this.execRoot, 'runtime', this.runtime, 'state');
  }

  get host(): string {
    return `unix://${this.socket}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Start berthd on the data root and wait until it answers. */
  async start(): Promise<void> {
    this.starts++;
    this.note(`--- harness: start #${this.starts}`);
    const proc = spawnBerthd(this, 'debug');
    this.proc = proc;
    proc.stdout?.on('data', (d) => this.onOutput(String(d)));
    proc.stderr?.on('data', (d) => this.onOutput(String(d)));
    await waitForBerthd(proc, this.socket, 30_000, () => `at start #${this.starts}:\n${this.logTail(40)}`);
    if (this.starts === 1) {
      const info = await this.docker(['info', '--format', '{{.DefaultRuntime}}']);
      if (info.code !== 0) throw new Error(`docker info: ${info.stderr}`);
      this.runtime = info.stdout.trim();
    }
  }

  /** SIGKILL berthd now (our own child, by its pid) and wait until it is gone. */
  async kill(): Promise<void> {
    const proc = this.proc;
    this.trigger = undefined;
    if (!proc || !this.running) return;
    const gone = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await gone;
    this.note('--- harness: SIGKILL');
  }

  /** Stop berthd politely (SIGTERM) and wait. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    const gone = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    const late = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    await gone;
    clearTimeout(late);
  }

  /**
   * SIGKILL berthd the moment it prints a line matching `trigger.pattern`. Resolves with
   * the line, or undefined when `timeoutMs` passed first (the trigger is then disarmed,
   * berthd left alone).
   */
  killOn(trigger: KillTrigger, timeoutMs: number): Promise<string | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.trigger?.trigger === trigger) this.trigger = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.trigger = {
        trigger,
        fired: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
    });
  }

  /** The last `n` lines berthd printed (all its runs), with the harness's own markers. */
  logTail(n = 30): string {
    return this.lines.slice(-n).join('\n');
  }

  /** Put a marker in the log, so a tail shows where the harness acted. */
  note(text: string): void {
    this.lines.push(text);
    if (this.lines.length > logRing) this.lines.splice(0, this.lines.length - logRing);
  }

  docker(args: string[], input?: string): Promise<CommandResult> {
    return run(dockerCli, args, { DOCKER_HOST: this.host, DOCKER_CONFIG: path.join(this.dir, 'docker-config') }, input);
  }

  /**
   * Remove every container, stop berthd, then report what the kernel still holds for this
   * daemon (mounts, cgroups, shims) and clean it up: shims and the processes left in our
   * cgroups are killed by pid, mounts unmounted, cgroups removed, the directory deleted.
   */
  async destroy(): Promise<string[]> {
    if (this.running) {
      const ids = (await this.docker(['ps', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
      if (ids.length) await this.docker(['rm', '-f', ...ids]);
      await this.stop();
    }
    const leaks: string[] = [];
    for (const m of mountsUnder(this.dir)) leaks.push(`mount ${m}`);
    for (const c of cgroupDirs(this.cgroupParent)) leaks.push(`cgroup ${c}`);
    for (const pid of shimPids(this.dir)) leaks.push(`berth-shim pid ${pid}`);
    // The embedded DNS server's process stops with berthd once no container needs it.
    for (const pid of resolverPids(this.dir)) leaks.push(`DNS resolver pid ${pid}`);
    // The default bridge and the table stay after berthd stops (as docker0 does); a veth or another bridge is a leak.
    leaks.push(...cleanUpNetwork(this.network));
    // Clean up whatever leaked: this daemon's shims (their arguments name our directory),
    // then what is left in our cgroups (container processes whose shim died).
    for (const pid of shimPids(this.dir)) killPid(pid);
    for (const pid of resolverPids(this.dir)) killPid(pid);
    for (const dir of cgroupDirs(this.cgroupParent)) for (const pid of cgroupPids(dir)) killPid(pid);
    await sleep(200);
    for (const m of mountsUnder(this.dir).reverse()) await run('umount', ['-l', m], {});
    for (const dir of cgroupDirs(this.cgroupParent)) removeCgroupTree(dir);
    await fs.rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
    return leaks;
  }

  /** Write a file into the harness directory (fixtures, reports). */
  writeFile(name: string, data: string | Buffer): string {
    const file = path.join(this.dir, name);
    writeFileSync(file, data);
    return file;
  }

  private onOutput(chunk: string): void {
    const text = this.partial + chunk;
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      if (this.trigger && this.running && this.trigger.trigger.pattern.test(line)) {
        // Kill before anything else: every microsecond lets berthd move past the point.
        this.proc?.kill('SIGKILL');
        const { fired } = this.trigger;
        this.trigger = undefined;
        this.note(line);
        this.note(`--- harness: SIGKILL on this line`);
        fired(line);
        continue;
      }
      this.note(line);
    }
  }
}

/** Pids in a cgroup directory and its descendants. */
export function cgroupPids(dir: string): number[] {
  const pids: number[] = [];
  try {
    for (const p of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.push(Number(p));
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) pids.push(...cgroupPids(path.join(dir, e.name)));
  } catch {
    // gone meanwhile
  }
  return pids;
}

function removeCgroupTree(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(path.join(dir, e.name));
    if (existsSync(dir)) rmdirSync(dir);
  } catch {
    // busy or gone: reported as a leak already
  }
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
