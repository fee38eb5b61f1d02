import type { ContainerStatsSample, ContainerUpdate } from '@berth/core';
import { type Command, forEachName, PROG } from '../command.js';
import { parseRestart } from '../container-options.js';
import { StatusError } from '../errors.js';
import { tabwrite, truncateId } from '../format/table.js';
import { bytesSize, humanSize, parseNanoCpus, ramInBytes } from '../format/units.js';

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

/** `docker stats`' CPU %: the container's share of the host's CPU time over the interval, times the CPUs. */
export function cpuPercent(s: ContainerStatsSample): number {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const systemDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats.online_cpus ?? s.cpu_stats.cpu_usage.percpu_usage?.length ?? 1;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0;
}

/** One row of `docker stats --no-stream`, with the CLI's units and memory accounting (cache not counted). */
function statsRow(s: ContainerStatsSample): string {
  const stats = s.memory_stats.stats ?? {};
  const cache = stats.total_inactive_file ?? stats.inactive_file ?? 0;
  const memory = Math.max(0, (s.memory_stats.usage ?? 0) - cache);
  const limit = s.memory_stats.limit ?? 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  let read = 0;
  let write = 0;
  for (const e of s.blkio_stats.io_service_bytes_recursive ?? []) {
    if (e.op.toLowerCase() === 'read') read += e.value;
    else if (e.op.toLowerCase() === 'write') write += e.value;
  }
  return [
    truncateId(s.id),
    s.name.replace(/^\//, ''),
    `${cpuPercent(s).toFixed(2)}%`,
    `${bytesSize(memory)} / ${bytesSize(limit)}`,
    `${(limit ? (memory / limit) * 100 : 0).toFixed(2)}%`,
    `${humanSize(rx)} / ${humanSize(tx)}`,
    `${humanSize(read)} / ${humanSize(write)}`,
    String(s.pids_stats.current ?? 0),
  ].join('\t');
}

export const statsCommand: Command = {
  name: 'stats',
  usage: '[OPTIONS] [CONTAINER...]',
  summary: 'Display a snapshot of container(s) resource usage statistics',
  aliases: `${PROG} container stats, ${PROG} stats`,
  flags: [
    { long: 'all', short: 'a', kind: 'bool', help: 'Show all containers (default shows just running)' },
    { long: 'no-stream', kind: 'bool', help: 'Disable streaming stats and only pull the first result (the only mode berth has)' },
  ],
  async run(ctx, flags, names) {
    const client = ctx.client();
    const ids = names.length ? names : (await client.containers.list({ all: flags.bool('all') })).map((c) => c.Id);
    const rows: string[] = [];
    const failed = await forEachName(
      ctx,
      ids,
      (n) => client.containers.statsOnce(n),
      (_n, s) => void rows.push(statsRow(s)),
    );
    const header = 'CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS';
    ctx.io.stdout.write(tabwrite(`${[header, ...rows].join('\n')}\n`, 0, 3));
    return status(failed);
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
