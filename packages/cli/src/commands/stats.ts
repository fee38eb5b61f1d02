import { constants } from 'node:os';
import type { ContainerStatsSample } from '@berth/core';
import { type Command, type CommandContext, forEachName, PROG } from '../command.js';
import { StatusError } from '../errors.js';
import { tabwrite, truncateId } from '../format/table.js';
import { bytesSize, humanSize } from '../format/units.js';

/** `docker stats`' CPU %: the container's share of the host's CPU time over the interval, times the CPUs. */
export function cpuPercent(s: ContainerStatsSample): number {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const systemDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats.online_cpus ?? s.cpu_stats.cpu_usage.percpu_usage?.length ?? 1;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * cpus * 100 : 0;
}

/** One row of `docker stats`, with the CLI's units and memory accounting (cache not counted). */
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

const header = 'CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS';

/** The table of `rows`, as docker stats prints it. */
function statsTable(rows: string[]): string {
  return tabwrite(`${[header, ...rows].join('\n')}\n`, 0, 3);
}

/** How often the streaming table is redrawn (the docker CLI's 500 ms). */
const refreshMs = 500;
/**
 * One redraw as the docker CLI 28 writes it: the cursor home, each line of the table
 * followed by erase-to-end-of-line, then erase-below, so a table that shrank leaves
 * nothing behind and the screen never flickers blank.
 */
function redraw(table: string): string {
  const lines = table.endsWith('\n') ? table.slice(0, -1).split('\n') : table.split('\n');
  return `\x1b[H${lines.map((l) => `${l}\x1b[K\n`).join('')}\x1b[J`;
}

/**
 * `docker stats` without `--no-stream`: one stats stream per container (the daemon sends
 * a sample a second), the table redrawn in place every 500 ms with each container's latest sample,
 * until a signal (Ctrl-C) ends the command with 128 + its number. Named containers are
 * checked first (an unknown one fails the command, as docker's) and keep their last row
 * when they stop; without names the running containers (`-a`: all) are listed again at
 * every redraw, so containers that start are added and those that go are dropped.
 */
async function streamStats(ctx: CommandContext, all: boolean, names: string[]): Promise<number> {
  const client = ctx.client();
  if (
    names.length &&
    (
      await forEachName(
        ctx,
        names,
        (n) => client.containers.inspect(n),
        () => {},
      )
    ).length
  )
    throw new StatusError('', 1);
  const stop = new AbortController();
  /** Container → its latest sample (undefined until the first), in the order they were found. */
  const latest = new Map<string, ContainerStatsSample | undefined>();
  const watch = (id: string): void => {
    if (latest.has(id)) return;
    latest.set(id, undefined);
    void client.containers
      .stats(id, (sample) => latest.set(id, sample), stop.signal)
      .catch(() => undefined) // gone meanwhile: its stream ends like a stopped one's
      .finally(() => {
        if (!names.length && !stop.signal.aborted) latest.delete(id);
      });
  };
  const find = async (): Promise<void> => {
    if (names.length) return names.forEach(watch);
    const listed = await client.containers.list({ all }).catch(() => undefined);
    if (!listed) return;
    const present = new Set(listed.map((c) => c.Id));
    for (const id of latest.keys()) if (!present.has(id)) latest.delete(id);
    for (const c of listed) watch(c.Id);
  };
  await find();
  return new Promise<number>((resolve) => {
    let drawing = false;
    const timer = setInterval(() => {
      if (drawing) return;
      drawing = true;
      const rows = [...latest.values()].filter((s): s is ContainerStatsSample => s !== undefined).map(statsRow);
      ctx.io.stdout.write(redraw(statsTable(rows)));
      void find().finally(() => (drawing = false));
    }, refreshMs);
    const unsubscribe = ctx.io.onSignal((signal) => {
      unsubscribe();
      clearInterval(timer);
      stop.abort();
      resolve(128 + (constants.signals[signal] ?? 0));
    });
  });
}

export const statsCommand: Command = {
  name: 'stats',
  usage: '[OPTIONS] [CONTAINER...]',
  summary: 'Display a live stream of container(s) resource usage statistics',
  aliases: `${PROG} container stats, ${PROG} stats`,
  flags: [
    { long: 'all', short: 'a', kind: 'bool', help: 'Show all containers (default shows just running)' },
    { long: 'no-stream', kind: 'bool', help: 'Disable streaming stats and only pull the first result' },
  ],
  async run(ctx, flags, names) {
    if (!flags.bool('no-stream')) return streamStats(ctx, flags.bool('all'), names);
    const client = ctx.client();
    const ids = names.length ? names : (await client.containers.list({ all: flags.bool('all') })).map((c) => c.Id);
    const rows: string[] = [];
    const failed = await forEachName(
      ctx,
      ids,
      (n) => client.containers.statsOnce(n),
      (_n, s) => void rows.push(statsRow(s)),
    );
    ctx.io.stdout.write(statsTable(rows));
    if (failed.length) throw new StatusError('', 1);
    return 0;
  },
};
