import type { ContainerUpdate } from '@berth/core';
import { type Command, forEachName, PROG } from '../command.js';
import { parseRestart } from '../container-options.js';
import { StatusError } from '../errors.js';
import { tabwrite } from '../format/table.js';
import { humanSize, parseNanoCpus, ramInBytes } from '../format/units.js';

/** Exit status 1 when any name failed (the errors were already printed). */
function status(failed: string[]): number {
  if (failed.length) throw new StatusError('', 1);
  return 0;
}

export const pauseCommand: Command = {
  name: 'pause',
  usage: 'CONTAINER [CONTAINER...]',
  summary: 'Pause all processes within one or more containers',
  aliases: `${PROG} container pause, ${PROG} pause`,
  flags: [],
  minArgs: 1,
  async run(ctx, _flags, names) {
    const client = ctx.client();
    return status(await forEachName(ctx, names, (n) => client.containers.pause(n)));
  },
};

export const unpauseCommand: Command = {
  name: 'unpause',
  usage: 'CONTAINER [CONTAINER...]',
  summary: 'Unpause all processes within one or more containers',
  aliases: `${PROG} container unpause, ${PROG} unpause`,
  flags: [],
  minArgs: 1,
  async run(ctx, _flags, names) {
    const client = ctx.client();
    return status(await forEachName(ctx, names, (n) => client.containers.unpause(n)));
  },
};

export const renameCommand: Command = {
  name: 'rename',
  usage: 'CONTAINER NEW_NAME',
  summary: 'Rename a container',
  aliases: `${PROG} container rename, ${PROG} rename`,
  flags: [],
  minArgs: 2,
  maxArgs: 2,
  async run(ctx, _flags, [container, name]) {
    await ctx.client().containers.rename(container!, name!);
    return 0;
  },
};

export const updateCommand: Command = {
  name: 'update',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Update configuration of one or more containers',
  aliases: `${PROG} container update, ${PROG} update`,
  flags: [
    { long: 'cpus', kind: 'string', meta: 'decimal', help: 'Number of CPUs' },
    { long: 'cpu-shares', short: 'c', kind: 'int', help: 'CPU shares (relative weight)' },
    { long: 'cpu-period', kind: 'int', help: 'Limit CPU CFS (Completely Fair Scheduler) period' },
    { long: 'cpu-quota', kind: 'int', help: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
    { long: 'cpuset-cpus', kind: 'string', help: 'CPUs in which to allow execution (0-3, 0,1)' },
    { long: 'memory', short: 'm', kind: 'string', meta: 'bytes', help: 'Memory limit' },
    { long: 'memory-reservation', kind: 'string', meta: 'bytes', help: 'Memory soft limit' },
    { long: 'memory-swap', kind: 'string', meta: 'bytes', help: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap' },
    { long: 'pids-limit', kind: 'int', help: 'Tune container pids limit (set -1 for unlimited)' },
    { long: 'restart', kind: 'string', help: 'Restart policy to apply when a container exits' },
  ],
  minArgs: 1,
  async run(ctx, flags, names) {
    const changes: ContainerUpdate = {};
    const bytes = (long: string) => {
      const text = flags.string(long);
      return text === undefined ? undefined : text === '-1' ? -1 : ramInBytes(text);
    };
    if (flags.has('cpus')) changes.NanoCpus = parseNanoCpus(flags.string('cpus')!);
    if (flags.has('cpu-shares')) changes.CpuShares = flags.int('cpu-shares')!;
    if (flags.has('cpu-period')) changes.CpuPeriod = flags.int('cpu-period')!;
    if (flags.has('cpu-quota')) changes.CpuQuota = flags.int('cpu-quota')!;
    if (flags.has('cpuset-cpus')) changes.CpusetCpus = flags.string('cpuset-cpus')!;
    if (flags.has('memory')) changes.Memory = bytes('memory');
    if (flags.has('memory-reservation')) changes.MemoryReservation = bytes('memory-reservation');
    if (flags.has('memory-swap')) changes.MemorySwap = bytes('memory-swap');
    if (flags.has('pids-limit')) changes.PidsLimit = flags.int('pids-limit')!;
    if (flags.has('restart')) changes.RestartPolicy = parseRestart(flags.string('restart')!);
    if (Object.keys(changes).length === 0) throw new StatusError('you must provide one or more flags when using this command', 1);
    const client = ctx.client();
    return status(
      await forEachName(
        ctx,
        names,
        (n) => client.containers.update(n, changes),
        (n, answer) => {
          for (const w of answer.Warnings ?? []) ctx.io.stderr.write(`${w}\n`);
          ctx.io.stdout.write(`${n}\n`);
        },
      ),
    );
  },
};

export const topCommand: Command = {
  name: 'top',
  usage: 'CONTAINER [ps OPTIONS]',
  summary: 'Display the running processes of a container',
  aliases: `${PROG} container top, ${PROG} top`,
  flags: [],
  minArgs: 1,
  interspersed: false,
  async run(ctx, _flags, [container, ...psArgs]) {
    const top = await ctx.client().containers.top(container!, psArgs.length ? psArgs.join(' ') : undefined);
    const lines = [top.Titles.join('\t'), ...top.Processes.map((p) => p.join('\t'))];
    ctx.io.stdout.write(tabwrite(`${lines.join('\n')}\n`, 0, 3));
    return 0;
  },
};

export const pruneCommand: Command = {
  name: 'prune',
  usage: '[OPTIONS]',
  summary: 'Remove all stopped containers',
  aliases: `${PROG} container prune`,
  flags: [
    { long: 'filter', kind: 'list', help: 'Provide filter values (e.g. "until=<timestamp>")' },
    { long: 'force', short: 'f', kind: 'bool', help: 'Do not prompt for confirmation' },
  ],
  maxArgs: 0,
  async run(ctx, flags) {
    const filters: Record<string, string[]> = {};
    for (const f of flags.list('filter')) {
      const eq = f.indexOf('=');
      if (eq < 0) throw new StatusError(`bad format of filter (expected name=value)`, 1);
      const key = f.slice(0, eq);
      filters[key] = [...(filters[key] ?? []), f.slice(eq + 1)];
    }
    const report = await ctx.client().containers.prune(filters);
    const deleted = report.ContainersDeleted ?? [];
    if (deleted.length) ctx.io.stdout.write(`Deleted Containers:\n${deleted.join('\n')}\n\n`);
    ctx.io.stdout.write(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
    return 0;
  },
};
