/**
 * The embedded DNS server's process (dns/README.md): `node resolver-main.js --dir <exec-root>/dns`.
 * berthd starts it detached, so it outlives a berthd killed with SIGKILL and keeps
 * answering the containers that still run; the next berthd adopts it through its
 * control socket. It loads nothing of the engine but the resolver.
 *
 * In `<dir>`: `records.json` (berthd's, read at start and on `reload`), `control.sock`
 * (one command per line, followed by the sender's pid: `ping` → `ok <pid>`, `reload` →
 * `ok` once the records are applied, `stop` → `ok`, then the process exits),
 * `resolver.pid`. SIGTERM stops it too. At most one runs per directory: a second one that
 * finds the socket answering exits. It stops by itself once the berthd that last spoke
 * to it is gone and no container needs it (a berthd killed with none running).
 */
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { processStartTime } from '@berth/core';
import type { DnsRecords } from './dns-records.js';
import { EmbeddedResolver } from './embedded-resolver.js';

/** How often namespaces are checked for a container that ended while berthd was away. */
const sweepIntervalMs = 1000;

async function main(): Promise<void> {
  const at = process.argv.indexOf('--dir');
  const dir = at > 0 ? process.argv[at + 1] : undefined;
  if (!dir) {
    process.stderr.write('usage: resolver-main --dir <directory>\n');
    process.exit(2);
  }
  const socketPath = path.join(dir, 'control.sock');
  const pidFile = path.join(dir, 'resolver.pid');
  if (await answers(socketPath)) process.exit(0); // another resolver serves this directory
  await fs.rm(socketPath, { force: true });
  const log = (message: string) => process.stderr.write(`${new Date().toISOString()} ${message}\n`);
  const resolver = new EmbeddedResolver({ log });
  const load = async () => {
    const text = await fs.readFile(path.join(dir, 'records.json'), 'utf8').catch(() => '');
    const records = text ? (JSON.parse(text) as DnsRecords) : { version: 1 as const, networks: {}, reverse: {}, sandboxes: [] };
    await resolver.apply(records);
  };
  let work: Promise<unknown> = load().catch((err) => log(`cannot load the records: ${String(err)}`));
  const serialised = (job: () => Promise<void>) => {
    const next = work.then(job);
    work = next.catch(() => {});
    return next;
  };
  // The berthd that last spoke to this resolver: once it is gone and no container needs the
  // resolver, nobody will (a berthd killed with none running); the next berthd starts another.
  let owner: Owner | undefined;
  const sweeper = setInterval(() => {
    resolver.sweep();
    if (owner && resolver.sandboxIds.length === 0 && !isAlive(owner)) {
      log(`berthd ${owner.pid} is gone and no container needs the resolver: stopping`);
      void stop();
    }
  }, sweepIntervalMs);
  const control = net.createServer((conn) => {
    let line = '';
    conn.on('error', () => {});
    conn.on('data', (chunk) => {
      line += chunk.toString();
      const end = line.indexOf('\n');
      if (end < 0) return;
      const [command = '', sender] = line.slice(0, end).trim().split(' ');
      line = line.slice(end + 1);
      if (sender && /^\d+$/.test(sender)) owner = ownerOf(Number(sender)) ?? owner;
      if (command === 'ping') conn.end(`ok ${process.pid}\n`);
      else if (command === 'reload')
        serialised(load).then(
          () => conn.end('ok\n'),
          (err) => conn.end(`error ${String(err).replace(/\n/g, ' ')}\n`),
        );
      else if (command === 'stop') conn.end('ok\n', () => void stop());
      else conn.end(`error unknown command ${JSON.stringify(command)}\n`);
    });
  });
  const stop = async () => {
    clearInterval(sweeper);
    resolver.close();
    control.close();
    await fs.rm(socketPath, { force: true });
    await fs.rm(pidFile, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.on('SIGHUP', () => void serialised(load));
  // The pid file first: a resolver that answers on its socket has its pid on disk already
  // (berthd's ensure() returns at the first answer and may read the file at once).
  const tmp = `${pidFile}.${process.pid}.tmp`;
  await fs.writeFile(tmp, `${process.pid}\n`);
  await fs.rename(tmp, pidFile);
  await new Promise<void>((resolve, reject) => {
    control.once('error', reject);
    control.listen(socketPath, resolve);
  });
  log(`resolver ${process.pid} serving ${dir}`);
}

/** A process, told apart from a later one with its pid by its start time. */
interface Owner {
  pid: number;
  started: number;
}

function ownerOf(pid: number): Owner | undefined {
  const started = processStartTime(pid);
  return started === null ? undefined : { pid, started };
}

function isAlive(owner: Owner): boolean {
  return processStartTime(owner.pid) === owner.started;
}

/** Whether a resolver answers `ping` on the socket. */
function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.connect(socketPath);
    conn.setTimeout(1000, () => {
      conn.destroy();
      resolve(false);
    });
    conn.on('error', () => resolve(false));
    conn.on('connect', () => conn.write('ping\n'));
    conn.on('data', (d) => {
      conn.destroy();
      resolve(d.toString().startsWith('ok'));
    });
  });
}

main().catch((err) => {
  process.stderr.write(`resolver: ${String(err)}\n`);
  process.exit(1);
});
