import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from '../command.js';

/** berthd's flags that say which data root and which daemon, passed on as given. */
const daemonFlags = ['data-root', 'exec-root', 'config-file', 'pidfile'] as const;

/**
 * The berthd program the migration runs: `$BERTHD` when set, else the `bin/berthd` of the
 * checkout this CLI runs from, else `berthd` on PATH.
 */
function berthdProgram(env: Record<string, string | undefined>): string {
  if (env.BERTHD) return env.BERTHD;
  const script = process.argv[1];
  if (script) {
    const beside = path.resolve(path.dirname(script), '../../../bin/berthd');
    if (existsSync(beside)) return beside;
  }
  return 'berthd';
}

/**
 * `berth storage migrate --to <driver>`: moves the data root's images and stopped
 * containers' changes to another storage driver. The migration is offline (no berthd
 * on the data root, no container running), so it is no API call: the CLI runs
 * `berthd storage migrate` (berthd owns the data root's flags, daemon.json and plugin
 * list; the CLI never loads the engine), passing its output through and exiting with
 * its status.
 */
export const storageMigrateCommand: Command = {
  name: 'migrate',
  usage: '--to DRIVER [OPTIONS]',
  summary: "Move the data root's images and stopped containers to another storage driver (berthd stopped)",
  flags: [
    { long: 'to', kind: 'string', help: "Storage driver to move to (overlay, vfs, btrfs, or a plugin's)" },
    { long: 'abort', kind: 'bool', help: 'Undo an unfinished migration instead' },
    { long: 'data-root', kind: 'string', help: 'Data root of the daemon', def: '/var/lib/berth' },
    { long: 'exec-root', kind: 'string', help: 'Exec root of the daemon', def: '/run/berth' },
    { long: 'config-file', kind: 'string', help: "The daemon's config file", def: '/etc/berth/daemon.json' },
    { long: 'pidfile', kind: 'string', help: "The daemon's pid file", def: '<exec-root>/berthd.pid' },
  ],
  maxArgs: 0,
  async run(ctx, flags) {
    const argv = ['storage', 'migrate'];
    const to = flags.string('to');
    if (to !== undefined) argv.push('--to', to);
    if (flags.bool('abort')) argv.push('--abort');
    for (const long of daemonFlags) {
      const value = flags.string(long);
      if (value !== undefined) argv.push(`--${long}`, value);
    }
    const child = spawn(berthdProgram(ctx.io.env), argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => ctx.io.stdout.write(chunk));
    child.stderr.on('data', (chunk: Buffer) => ctx.io.stderr.write(chunk));
    // An interrupt reaches berthd too (same process group); the journal makes it safe.
    return new Promise<number>((resolve) => {
      child.on('error', (err) => {
        ctx.io.stderr.write(`cannot run berthd for the migration: ${err.message} (set BERTHD to its path)\n`);
        resolve(1);
      });
      child.on('close', (code) => resolve(code ?? 1));
    });
  },
};
