import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { processAlive } from '@berth/core';
import { parseDaemonArgs, UsageError } from './args.js';
import { ConfigError, readConfigFile } from './config-file.js';
import type { DaemonParts } from './daemon.js';
import { defaultConfigFile } from './daemon-config.js';
import { createLogger } from './logger.js';
import { mergeDaemonConfig } from './merge-config.js';
import { loadThirdPartyPlugins, PluginLoadError } from './third-party-plugins.js';
import { acceptsConnections } from './unix-socket.js';

export const storageMigrateUsage = `Usage:  berthd storage migrate --to <driver> [berthd's flags]
        berthd storage migrate --abort [berthd's flags]

Move the data root's images and stopped containers' changes to another storage driver,
offline: no berthd may run on the data root and no container may run. berthd's flags
(--data-root, --exec-root, --config-file, --pidfile, -H) say which data root and which
daemon; daemon.json's plugins are offered as at start-up.

Options:
      --to string   the storage driver to move to (overlay, vfs, btrfs, or a plugin's)
      --abort       undo an unfinished migration instead (before its switch)
`;

/** What the migration needs from the engine; loaded only when the command runs. */
export interface StorageMigrateParts {
  migrateStorage: typeof import('@berth/engine').migrateStorage;
  builtinPlugins: DaemonParts['builtinPlugins'];
}

async function realParts(): Promise<StorageMigrateParts> {
  const [{ migrateStorage }, { builtinPlugins }] = await Promise.all([import('@berth/engine'), import('./builtin-plugins.js')]);
  return { migrateStorage, builtinPlugins };
}

/**
 * `berthd storage migrate`: the offline storage migration (@berth/engine's
 * migrateStorage) on the data root berthd's flags and daemon.json name, with the plugins
 * berthd would load. It is berthd's because berthd owns what decides the data root
 * (flags, daemon.json, third-party plugins) and what says a daemon holds it (the pid
 * file, the sockets). One progress line per step on stdout; exit 0 when done, 1 when
 * refused or failed (the reason on stderr).
 */
export async function storageMigrateMain(
  argv: readonly string[],
  io: { stdout: Writable; stderr: Writable },
  parts?: StorageMigrateParts,
): Promise<number> {
  let to: string | undefined;
  let abort = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--to') {
      to = argv[++i];
      if (to === undefined) return usageError(io.stderr, 'flag needs an argument: --to');
    } else if (arg.startsWith('--to=')) to = arg.slice('--to='.length);
    else if (arg === '--abort') abort = true;
    else if (arg === '--help' || arg === '-h') {
      io.stdout.write(storageMigrateUsage);
      return 0;
    } else rest.push(arg);
  }
  if (abort && to !== undefined) return usageError(io.stderr, '--to and --abort cannot be used together');
  if (!abort && !to) return usageError(io.stderr, '--to <driver> is required');

  let config: ReturnType<typeof mergeDaemonConfig>;
  try {
    const parsed = parseDaemonArgs(rest);
    const configFile = parsed.configFile ?? defaultConfigFile;
    const file = await readConfigFile(configFile);
    config = mergeDaemonConfig(parsed.settings, file.settings, file.found ? configFile : undefined);
  } catch (err) {
    if (err instanceof UsageError) return usageError(io.stderr, err.message);
    if (err instanceof ConfigError) {
      io.stderr.write(`berthd storage migrate: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const log = createLogger({ level: config.logLevel, format: config.logFormat, write: (line) => io.stderr.write(line) });
  try {
    const { migrateStorage, builtinPlugins } = parts ?? (await realParts());
    const plugins = [...builtinPlugins, ...loadThirdPartyPlugins(config.plugins, builtinPlugins, { configFile: config.configFile })];
    const report = await migrateStorage({
      dataRoot: config.dataRoot,
      execRoot: config.execRoot,
      plugins,
      pluginConfig: config.pluginConfig,
      cgroupParent: config.cgroupParent,
      logger: log.child({ component: 'storage-migration' }),
      ...(to ? { to } : {}),
      abort,
      progress: (line) => io.stdout.write(`${line}\n`),
      heldBy: () => daemonHolding(config.dataRoot, config.pidfile, config.hosts),
    });
    io.stdout.write(
      report.undone
        ? `undone: ${config.dataRoot} stays on ${report.from}\n`
        : `done: ${config.dataRoot} now uses ${report.to} (${report.layers} layers, ${report.containers} containers moved)\n`,
    );
    return 0;
  } catch (err) {
    const expected = err instanceof PluginLoadError || (err as { status?: number }).status !== undefined;
    io.stderr.write(`berthd storage migrate: ${expected ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
    return 1;
  }
}

function usageError(stderr: Writable, message: string): number {
  stderr.write(`berthd storage migrate: ${message}\nSee 'berthd storage migrate --help'.\n`);
  return 1;
}

/**
 * Why a berthd holds the data root: its pid file names a live process, one of its sockets
 * answers, or a berthd process was started with `--data-root` naming it (one whose pid
 * file and sockets are elsewhere, as another set of flags would put them).
 */
async function daemonHolding(dataRoot: string, pidfile: string, sockets: readonly string[]): Promise<string | undefined> {
  try {
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) return `berthd pid ${pid} (named by ${pidfile})`;
  } catch {
    // no pid file: no daemon by that account
  }
  for (const socket of sockets) if (await acceptsConnections(socket)) return `a daemon answers on ${socket}`;
  const other = berthdOn(dataRoot);
  return other ? `berthd pid ${other} (started with --data-root ${dataRoot})` : undefined;
}

/** A live berthd (not a `berthd storage …` command) whose command line names `dataRoot` with --data-root. */
export function berthdOn(dataRoot: string, procRoot = '/proc'): number | undefined {
  for (const entry of readdirSync(procRoot)) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(path.join(procRoot, entry, 'cmdline'), 'utf8').split('\0');
    } catch {
      continue;
    }
    const program = argv.findIndex((a) => a.endsWith('/daemon/dist/src/bin.js') || path.basename(a) === 'berthd');
    if (program < 0 || argv[program + 1] === 'storage') continue;
    for (let i = program + 1; i < argv.length; i++) {
      const value = argv[i] === '--data-root' ? argv[i + 1] : argv[i]!.startsWith('--data-root=') ? argv[i]!.slice(12) : undefined;
      if (value !== undefined && path.resolve(value) === path.resolve(dataRoot)) return Number(entry);
    }
  }
  return undefined;
}
