import { spawn } from 'node:child_process';
import { closeSync, promises as fs, openSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** How long a command to the resolver may take (a reload makes two sockets per new sandbox: well under this). */
const commandTimeoutMs = 5000;
/** How long a newly started resolver has to answer its first ping. */
const startTimeoutMs = 10_000;

/**
 * berthd's side of the resolver process (`resolver-main`): start it detached, adopt the
 * one a previous berthd started (it answers on `<dir>/control.sock`), send it commands,
 * stop it. A resolver that holds the pid file but no longer answers is killed (only when
 * /proc says it is this directory's resolver) and replaced.
 */
export class ResolverControl {
  readonly socketPath: string;
  readonly pidFile: string;
  readonly logFile: string;

  constructor(readonly dir: string) {
    this.socketPath = path.join(dir, 'control.sock');
    this.pidFile = path.join(dir, 'resolver.pid');
    this.logFile = path.join(dir, 'resolver.log');
  }

  /** Send one command and resolve with the resolver's answer line; rejects when no resolver answers. */
  command(command: 'ping' | 'reload' | 'stop'): Promise<string> {
    return new Promise((resolve, reject) => {
      const conn = net.connect(this.socketPath);
      let answer = '';
      conn.setTimeout(commandTimeoutMs, () => conn.destroy(new Error(`the DNS resolver did not answer ${command} in time`)));
      conn.on('error', reject);
      conn.on('connect', () => conn.write(`${command} ${process.pid}\n`));
      conn.on('data', (d) => {
        answer += d.toString();
      });
      conn.on('end', () => {
        const line = answer.trim();
        if (line.startsWith('ok')) resolve(line);
        else reject(new Error(`the DNS resolver refused ${command}: ${line || 'no answer'}`));
      });
    });
  }

  /** Whether a resolver answers now. */
  async alive(): Promise<boolean> {
    return this.command('ping').then(
      () => true,
      () => false,
    );
  }

  /** Make sure a resolver answers: adopt the running one, or start one (after killing a hung one). */
  async ensure(): Promise<void> {
    if (await this.alive()) return;
    await this.killStale();
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const main = path.join(__dirname, __filename.endsWith('.ts') ? 'resolver-main.ts' : 'resolver-main.js');
    // From source (the unit tests) the entry is TypeScript: run it through tsx as they are.
    const loader = main.endsWith('.ts') ? ['--conditions=@berth/source', '-r', require.resolve('tsx/cjs')] : [];
    const log = openSync(this.logFile, 'a');
    try {
      const child = spawn(process.execPath, [...loader, main, '--dir', this.dir], {
        detached: true,
        stdio: ['ignore', log, log],
        env: { ...process.env, NODE_OPTIONS: '' },
      });
      child.unref();
    } finally {
      closeSync(log);
    }
    const deadline = Date.now() + startTimeoutMs;
    while (!(await this.alive())) {
      if (Date.now() > deadline) throw new Error(`the DNS resolver did not start (see ${this.logFile})`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The pid of a resolver process of this directory, if one runs (from its pid file, checked against /proc). */
  async pid(): Promise<number | undefined> {
    const pid = Number((await fs.readFile(this.pidFile, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0');
    return args.some((a) => /resolver-main\.(js|ts)$/.test(a)) && args.includes(this.dir) ? pid : undefined;
  }

  /** Stop the resolver (its sockets close, the namespaces they held go) and remove its files. */
  async stop(): Promise<void> {
    const pid = await this.pid();
    await this.command('stop').catch(() => {});
    if (pid !== undefined) await waitGone(pid, 5000);
    await this.killStale();
    for (const file of [this.socketPath, this.pidFile]) await fs.rm(file, { force: true });
  }

  private async killStale(): Promise<void> {
    const pid = await this.pid();
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
    await waitGone(pid, 5000);
  }
}

async function waitGone(pid: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
