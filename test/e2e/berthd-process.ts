import { type ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { type DaemonNetwork, networkArgs } from './network-isolation';

/** The repository root, where bin/berthd lives. */
const repo = path.resolve(__dirname, '../..');

/** Where one test daemon keeps everything: all of it under `dir`, named for the harness. */
export interface BerthdLayout {
  readonly dir: string;
  readonly socket: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly cgroupParent: string;
  readonly storageDriver: string;
  /** The daemon's own bridge, nftables table and address pool (network-isolation.ts). */
  readonly network: DaemonNetwork;
}

/**
 * Start `bin/berthd` on a layout: its socket, data root, exec root, storage driver,
 * cgroup parent and network objects (bridge, nftables table, address pool), and a `--config-file` that does not exist, so the host's
 * /etc/berth/daemon.json never leaks in. `NODE_OPTIONS` is dropped from its environment
 * (the tests' own `--conditions` must not reach the built daemon). Output is piped; the
 * caller reads it. The test harness (`TestDaemon`) and the crash harness (`CrashDaemon`)
 * both start their daemons here.
 */
export function spawnBerthd(layout: BerthdLayout, logLevel: 'debug' | 'info' | 'warn', extraArgs: readonly string[] = []): ChildProcess {
  // biome-ignore format: flag and value pairs
  const args = [
    '--host', `unix://${layout.socket}`,
    '--data-root', layout.dataRoot,
    '--exec-root', layout.execRoot,
    '--storage-driver', layout.storageDriver,
    '--cgroup-parent', layout.cgroupParent,
    '--log-level', logLevel,
    '--config-file', path.join(layout.dir, 'none.json'),
    ...networkArgs(layout.network),
    // A whole suite under another runtime: BERTH_E2E_RUNTIME=crun node scripts/run-tests.js test/e2e
    ...(process.env.BERTH_E2E_RUNTIME ? ['--default-runtime', process.env.BERTH_E2E_RUNTIME] : []),
    ...extraArgs,
  ];
  return spawn(path.join(repo, 'bin/berthd'), args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv({}) });
}

/**
 * Wait until the daemon answers `/_ping` on its socket (berthd listens only once its
 * engine has opened and recovered). Throws, with `describe()`'s text (the daemon's log),
 * when the process exits first or `timeoutMs` passes.
 */
export async function waitForBerthd(proc: ChildProcess, socket: string, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`berthd exited (${proc.exitCode ?? proc.signalCode}):\n${describe()}`);
    }
    if (await pingSocket(socket)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`berthd did not answer on ${socket} within ${timeoutMs / 1000} s:\n${describe()}`);
}

/** The environment of a command the harness runs: the tests' own, without NODE_OPTIONS, plus `extra`. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _ignored, ...env } = process.env;
  return { ...env, ...extra };
}

function pingSocket(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    s.on('error', () => resolve(false));
    s.on('connect', () => s.write('GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    s.on('data', (d) => {
      resolve(d.toString().startsWith('HTTP/1.1 200'));
      s.destroy();
    });
    s.on('close', () => resolve(false));
  });
}
