import { type ChildProcess, fork } from 'node:child_process';
import { lstatSync, readdirSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import type { TestDaemon } from '../e2e/harness';

/**
 * berthd's flags for the hostile suites: every limit short, so each is reached within a
 * test's time, and the connection limit small enough for a flood of a few thousand
 * sockets to pass it many times over.
 */
export const hostileArgs = [
  '--api-max-connections',
  '256',
  '--api-headers-timeout',
  '1',
  '--api-idle-timeout',
  '1',
  '--api-body-idle-timeout',
  '1',
];

/** The sockets one test opened; `closeAll()` in its `finally` destroys every one, whatever happened. */
export class SocketPool {
  private readonly sockets = new Set<net.Socket>();

  /** A connection to `socketPath`, half-open allowed (to see the server's FIN without closing ours). */
  connect(socketPath: string): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection({ path: socketPath, allowHalfOpen: true }, () => resolve(s));
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
      s.once('error', reject);
    });
  }

  get size(): number {
    return this.sockets.size;
  }

  closeAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}

/** Everything the server sends on `socket` until it closes its side; after `timeoutMs` rejects with what arrived. */
export function readUntilClosed(socket: net.Socket, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(
      () => reject(new Error(`the server did not close within ${timeoutMs} ms; got ${JSON.stringify(got)}`)),
      timeoutMs,
    );
    socket.on('data', (d) => (got += d));
    const done = () => {
      clearTimeout(timer);
      resolve(got);
    };
    socket.once('end', done);
    socket.once('close', done);
    socket.on('error', () => {}); // a reset after the answer is fine; 'close' follows
  });
}

/** Connects, sends `data` (all at once), and returns everything answered until the server closed. */
export async function exchange(pool: SocketPool, socketPath: string, data: string | Buffer, timeoutMs?: number): Promise<string> {
  const s = await pool.connect(socketPath);
  const answer = readUntilClosed(s, timeoutMs);
  s.write(data);
  return answer;
}

export interface RawAnswer {
  status: number;
  head: string;
  body: string;
}

/** The first response of a raw answer: status, header block, body (not de-chunked). */
export function firstResponse(raw: string): RawAnswer {
  const split = raw.indexOf('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1] ?? 0), head: raw.slice(0, split), body: raw.slice(split + 4) };
}

/** An error answer as clients expect it: the status, a JSON `{"message"}` and never a stack trace. */
export function assertJsonError(raw: string, status: number | number[], what: string): string {
  const r = firstResponse(raw);
  const statuses = Array.isArray(status) ? status : [status];
  assert.ok(statuses.includes(r.status), `${what}: status ${r.status}, wanted ${statuses.join(' or ')}: ${raw.slice(0, 300)}`);
  assert.match(r.head, /content-type: application\/json/i, what);
  const body = JSON.parse(r.body) as { message: unknown };
  assert.type(body.message, 'string', what);
  assert.not.match(r.body, /\n\s+at |\.js:\d+:\d+|\.ts:\d+:\d+/, `${what}: no stack trace`);
  return body.message as string;
}

/** What a PingProbe saw: pings answered 200 (and how long each took), and every other outcome. */
export interface PingReport {
  answered: number;
  failures: string[];
  timesMs: number[];
}

/**
 * How long `/_ping` may take while the daemon holds a flood or slow clients, at worst:
 * the bound, checked on the worst of a few pings (`assertPingsWithinBound`), not
 * a measured figure. Opening a flood is an accept storm whose latencies are
 * bench/hostile.js's figures (p50/p99 beside dockerd), not a test's.
 */
export const pingBoundMs = 50;

function probeProcess(socketPath: string, count?: number): ChildProcess {
  return fork(path.join(__dirname, 'ping-probe-process.js'), count ? [socketPath, String(count)] : [socketPath], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
}

function reportOf(child: ChildProcess): Promise<PingReport> {
  const report = new Promise<PingReport>((resolve, reject) => {
    child.once('message', (m) => resolve(m as PingReport));
    child.once('exit', (code, signal) => reject(new Error(`the ping probe exited (${signal ?? code}) before reporting`)));
  });
  report.catch(() => {}); // awaited by the caller; never an unhandled rejection meanwhile
  return report;
}

/**
 * Asks `/_ping` `count` times, 20 ms apart, from a process of its own, once the attack
 * has had `settleMs` to reach the state the daemon then holds (its connections accepted,
 * the bytes sent so far read). Resolves the ping times, or a message naming what went
 * wrong: every ping must be answered 200 within `pingBoundMs`. The probe is killed if it
 * has not reported within 25 s.
 */
export async function pingsWhileHolding(socketPath: string, what: string, count = 3, settleMs = 200): Promise<string | undefined> {
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const child = probeProcess(socketPath, count);
  const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
  let report: PingReport;
  try {
    report = await reportOf(child);
  } finally {
    clearTimeout(timer);
  }
  if (report.failures.length) return `/_ping while the daemon held ${what}: ${report.failures.join(', ')}`;
  if (Math.max(...report.timesMs) > pingBoundMs)
    return `/_ping not answered within ${pingBoundMs} ms while the daemon held ${what}: ${report.timesMs.join(', ')} ms`;
  return undefined;
}

/** `pingsWhileHolding`, asserted at once. */
export async function assertPingsWithinBound(socketPath: string, what: string): Promise<void> {
  const problem = await pingsWhileHolding(socketPath, what);
  assert.is(problem, undefined, problem);
}

/**
 * Asks `/_ping` over a fresh connection every 20 ms while an attack runs, from a process
 * of its own (ping-probe-process.js): the test's own event loop is busy with the attack,
 * and a ping timed there would include that wait. `stop()` resolves what it saw.
 */
export class PingProbe {
  private readonly child: ChildProcess;
  private readonly report: Promise<PingReport>;

  constructor(socketPath: string) {
    this.child = probeProcess(socketPath);
    this.report = reportOf(this.child);
  }

  /** Stops after the ping in flight, which counts: even a short attack sees one answer. */
  async stop(): Promise<PingReport> {
    if (this.child.connected) this.child.send('stop');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 25_000);
    try {
      return await this.report;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Every path under the data root with its type (and size, for files), sorted; log files (they grow by design) left out. */
export function dataRootListing(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of entries) {
      const p = path.join(dir, name);
      if (name.endsWith('.log') || name.startsWith('.removing-')) continue;
      let st: ReturnType<typeof lstatSync>;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      const rel = path.relative(root, p);
      if (st.isDirectory()) {
        out.push(`${rel}/`);
        // A container's root filesystem is the image's, mounted: its contents are not the daemon's state.
        if (name !== 'rootfs' && name !== 'merged') walk(p);
      } else out.push(st.isFile() ? `${rel} ${st.size}` : rel);
    }
  };
  walk(root);
  return out.sort();
}

/**
 * Runs `attack` with a fresh socket pool while a PingProbe asks `/_ping`; then asserts
 * the daemon answered every ping during it and that nothing under the data root changed.
 * The pool is closed whatever happens.
 */
export async function underAttack(daemon: TestDaemon, attack: (pool: SocketPool) => Promise<void>): Promise<void> {
  // Once what berthd finishes in the background is done (a removed container's network
  // endpoint is released just after the removal is reported): two listings 200 ms apart agree.
  let before = dataRootListing(daemon.dataRoot);
  for (let i = 0; i < 25; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const now = dataRootListing(daemon.dataRoot);
    if (JSON.stringify(now) === JSON.stringify(before)) break;
    before = now;
  }
  const pool = new SocketPool();
  const probe = new PingProbe(daemon.socket);
  let pings: PingReport;
  try {
    await attack(pool);
  } finally {
    pings = await probe.stop();
    pool.closeAll();
  }
  assert.equal(pings.failures, [], `every /_ping during the attack answered 200 (slowest ${Math.max(...pings.timesMs)} ms)`);
  assert.ok(pings.answered >= 1, '/_ping was answered during the attack');
  // The attack's own removals finish their releases in the background too: given 5 s to.
  let after = dataRootListing(daemon.dataRoot);
  for (let i = 0; i < 25 && JSON.stringify(after) !== JSON.stringify(before); i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    after = dataRootListing(daemon.dataRoot);
  }
  assert.equal(after, before, 'nothing under the data root changed');
}

/** Lines of berthd's log at `level`. */
export function logLines(daemon: TestDaemon, level: string): string[] {
  return daemon
    .daemonLogs()
    .split('\n')
    .filter((l) => l.includes(`level=${level} `));
}
