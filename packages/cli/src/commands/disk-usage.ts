import type { DiskUsage, ImageDeleteEntry, ImageHistoryEntry } from '@berth/core';
import { type Command, PROG } from '../command.js';
import { StatusError } from '../errors.js';
import { ellipsis, tabwrite, truncateId } from '../format/table.js';
import { humanSize, ramInBytes, timeAgo } from '../format/units.js';
import { parseFilters } from './ps.js';

/** `CREATED BY` is cut to this many characters without `--no-trunc`, as the docker CLI does. */
const createdByWidth = 45;

/** `docker history`'s table: newest layer first, `<missing>` for layers that are not an image here. */
export function formatHistory(
  entries: ImageHistoryEntry[],
  options: { noTrunc?: boolean; human?: boolean; quiet?: boolean; nowMs: number },
): string {
  const id = (e: ImageHistoryEntry) => (e.Id === '<missing>' || options.noTrunc ? e.Id : truncateId(e.Id));
  if (options.quiet) return entries.map((e) => `${id(e)}\n`).join('');
  const human = options.human ?? true;
  const lines = ['IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT'];
  for (const e of entries) {
    let createdBy = e.CreatedBy.replace(/\t/g, ' ');
    if (!options.noTrunc && createdBy.length > createdByWidth) createdBy = `${createdBy.slice(0, createdByWidth - 1)}…`;
    const created = human ? timeAgo(e.Created, options.nowMs) : new Date(e.Created * 1000).toISOString().replace('.000Z', 'Z');
    const size = human ? humanSize(e.Size) : String(e.Size);
    lines.push(`${id(e)}\t${created}\t${createdBy}\t${size}\t${e.Comment}`);
  }
  return tabwrite(`${lines.join('\n')}\n`, 0, 3);
}

export const historyCommand: Command = {
  name: 'history',
  usage: '[OPTIONS] IMAGE',
  summary: 'Show the history of an image',
  aliases: `${PROG} image history, ${PROG} history`,
  flags: [
    { long: 'human', short: 'H', kind: 'bool', help: 'Print sizes and dates in human readable format (default true)' },
    { long: 'no-trunc', kind: 'bool', help: "Don't truncate output" },
    { long: 'quiet', short: 'q', kind: 'bool', help: 'Only show image IDs' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, [image]) {
    const entries = await ctx.client().images.history(image!);
    ctx.io.stdout.write(
      formatHistory(entries, {
        noTrunc: flags.bool('no-trunc'),
        // On unless `--human=false`.
        human: flags.bool('human', true),
        quiet: flags.bool('quiet'),
        nowMs: ctx.io.now(),
      }),
    );
    return 0;
  },
};

/** `untagged: x` / `deleted: sha256:…` lines, as `rmi` and the prunes print them. */
function deletedLines(entries: ImageDeleteEntry[]): string {
  return entries
    .map((e) => ('Untagged' in e && e.Untagged ? `untagged: ${e.Untagged}\n` : `deleted: ${(e as { Deleted: string }).Deleted}\n`))
    .join('');
}

export const imagePruneCommand: Command = {
  name: 'prune',
  usage: '[OPTIONS]',
  summary: 'Remove unused images',
  aliases: `${PROG} image prune`,
  flags: [
    { long: 'all', short: 'a', kind: 'bool', help: 'Remove all unused images, not just dangling ones' },
    { long: 'filter', kind: 'list', help: 'Provide filter values (e.g. "until=<timestamp>")' },
    { long: 'force', short: 'f', kind: 'bool', help: 'Do not prompt for confirmation' },
  ],
  maxArgs: 0,
  async run(ctx, flags) {
    const filters = parseFilters(flags.list('filter'));
    if (flags.bool('all')) filters.dangling = ['false'];
    const report = await ctx.client().images.prune(filters);
    const deleted = report.ImagesDeleted ?? [];
    if (deleted.length) ctx.io.stdout.write(`Deleted Images:\n${deletedLines(deleted)}\n`);
    ctx.io.stdout.write(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
    return 0;
  },
};

export const builderPruneCommand: Command = {
  name: 'prune',
  usage: '[OPTIONS]',
  summary: 'Remove build cache',
  aliases: `${PROG} builder prune`,
  flags: [
    { long: 'all', short: 'a', kind: 'bool', help: 'Remove all unused build cache, not just dangling ones' },
    { long: 'filter', kind: 'list', help: 'Provide filter values (e.g. "until=24h")' },
    { long: 'force', short: 'f', kind: 'bool', help: 'Do not prompt for confirmation' },
    { long: 'keep-storage', kind: 'string', help: 'Amount of disk space to keep for cache' },
  ],
  maxArgs: 0,
  async run(ctx, flags) {
    const keep = flags.string('keep-storage');
    const report = await ctx.client().images.pruneBuildCache({
      all: flags.bool('all'),
      ...(keep ? { keepStorage: ramInBytes(keep) } : {}),
      filters: parseFilters(flags.list('filter')),
    });
    const deleted = report.CachesDeleted ?? [];
    if (deleted.length) ctx.io.stdout.write(`Deleted build cache objects:\n${deleted.join('\n')}\n\n`);
    ctx.io.stdout.write(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
    return 0;
  },
};

export const systemPruneCommand: Command = {
  name: 'prune',
  usage: '[OPTIONS]',
  summary: 'Remove unused data',
  aliases: `${PROG} system prune`,
  flags: [
    { long: 'all', short: 'a', kind: 'bool', help: 'Remove all unused images not just dangling ones' },
    { long: 'filter', kind: 'list', help: 'Provide filter values (e.g. "label=<key>=<value>")' },
    { long: 'force', short: 'f', kind: 'bool', help: 'Do not prompt for confirmation' },
    { long: 'volumes', kind: 'bool', help: 'Prune volumes' },
  ],
  maxArgs: 0,
  async run(ctx, flags) {
    const filters = parseFilters(flags.list('filter'));
    for (const key of Object.keys(filters)) {
      if (key !== 'until' && key !== 'label' && key !== 'label!')
        throw new StatusError(`Error response from daemon: Invalid filter '${key}'`, 1);
    }
    const client = ctx.client();
    // Containers first: the images they held become unused for the image prune.
    const containers = await client.containers.prune(filters);
    const images = await client.images.prune(flags.bool('all') ? { ...filters, dangling: ['false'] } : filters);
    const deletedContainers = containers.ContainersDeleted ?? [];
    if (deletedContainers.length) ctx.io.stdout.write(`Deleted Containers:\n${deletedContainers.join('\n')}\n\n`);
    // Volumes after containers, whose removal frees them; only the label filters apply to them.
    const volumeFilters = Object.fromEntries(Object.entries(filters).filter(([k]) => k !== 'until'));
    const volumes = flags.bool('volumes') ? await client.volumes.prune(volumeFilters) : { VolumesDeleted: null, SpaceReclaimed: 0 };
    const deletedVolumes = volumes.VolumesDeleted ?? [];
    if (deletedVolumes.length) ctx.io.stdout.write(`Deleted Volumes:\n${deletedVolumes.join('\n')}\n\n`);
    const deletedImages = images.ImagesDeleted ?? [];
    if (deletedImages.length) ctx.io.stdout.write(`Deleted Images:\n${deletedLines(deletedImages)}\n`);
    // The build cache last, as docker does (`until` is the filter it takes).
    const until = filters.until ? { until: filters.until } : undefined;
    const cache = await client.images.pruneBuildCache({ all: flags.bool('all'), ...(until ? { filters: until } : {}) });
    const deletedCache = cache.CachesDeleted ?? [];
    if (deletedCache.length) ctx.io.stdout.write(`Deleted build cache objects:\n${deletedCache.join('\n')}\n\n`);
    ctx.io.stdout.write(
      `Total reclaimed space: ${humanSize(containers.SpaceReclaimed + volumes.SpaceReclaimed + images.SpaceReclaimed + cache.SpaceReclaimed)}\n`,
    );
    return 0;
  },
};

/** Sizes as `docker system df` prints them: four significant digits (`1.983MB`). */
const dfSize = (bytes: number) => humanSize(bytes, 4);

/** `docker system df`'s summary: one row per kind, reclaimable as the docker CLI computes it. */
export function formatDiskUsage(usage: DiskUsage): string {
  const percent = (part: number, total: number) => (total > 0 ? ` (${Math.round((part * 100) / total)}%)` : '');
  const activeImages = usage.Images.filter((i) => i.Containers > 0);
  const usedByActive = activeImages.reduce((n, i) => n + (i.Size - i.SharedSize), 0);
  const imagesReclaimable = Math.max(0, usage.LayersSize - usedByActive);
  const containersSize = usage.Containers.reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const containersReclaimable = usage.Containers.filter((c) => c.State !== 'running').reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const volumes = usage.Volumes ?? [];
  const volumeSize = (v: (typeof volumes)[number]) => Math.max(0, v.UsageData?.Size ?? 0);
  const volumesSize = volumes.reduce((n, v) => n + volumeSize(v), 0);
  const activeVolumes = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0);
  const volumesReclaimable = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) === 0).reduce((n, v) => n + volumeSize(v), 0);
  const cache = usage.BuildCache ?? [];
  const cacheSize = cache.reduce((n, c) => n + c.Size, 0);
  const cacheReclaimable = cache.filter((c) => !c.InUse && !c.Shared).reduce((n, c) => n + c.Size, 0);
  const rows = [
    'TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE',
    `Images\t${usage.Images.length}\t${activeImages.length}\t${dfSize(usage.LayersSize)}\t${dfSize(imagesReclaimable)}${percent(imagesReclaimable, usage.LayersSize)}`,
    `Containers\t${usage.Containers.length}\t${usage.Containers.filter((c) => c.State === 'running').length}\t${dfSize(containersSize)}\t${dfSize(containersReclaimable)}${percent(containersReclaimable, containersSize)}`,
    `Local Volumes\t${volumes.length}\t${activeVolumes.length}\t${dfSize(volumesSize)}\t${dfSize(volumesReclaimable)}${percent(volumesReclaimable, volumesSize)}`,
    `Build Cache\t${cache.length}\t${cache.filter((c) => c.InUse).length}\t${dfSize(cacheSize)}\t${dfSize(cacheReclaimable)}`,
  ];
  return tabwrite(`${rows.join('\n')}\n`, 0, 3);
}

/** `docker system df -v`: every image with its shared and unique size, every container with its own. */
export function formatDiskUsageVerbose(usage: DiskUsage, nowMs: number): string {
  const images = ['REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS'];
  for (const i of usage.Images) {
    const tags = i.RepoTags?.length ? i.RepoTags : ['<none>:<none>'];
    for (const tag of tags) {
      const colon = tag.lastIndexOf(':');
      images.push(
        `${tag.slice(0, colon)}\t${tag.slice(colon + 1)}\t${truncateId(i.Id)}\t${timeAgo(i.Created, nowMs)}\t${humanSize(i.Size)}\t${dfSize(i.SharedSize)}\t${dfSize(i.Size - i.SharedSize)}\t${i.Containers}`,
      );
    }
  }
  const containers = ['CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES'];
  for (const c of usage.Containers) {
    containers.push(
      `${c.Id.slice(0, 12)}\t${c.Image}\t"${ellipsis(c.Command, 20)}"\t${(c.Mounts ?? []).filter((m) => m.Type === 'volume').length}\t${dfSize(c.SizeRw ?? 0)}\t${timeAgo(c.Created, nowMs)}\t${c.Status}\t${(c.Names[0] ?? '').replace(/^\//, '')}`,
    );
  }
  const volumeRows = ['VOLUME NAME\tLINKS\tSIZE'];
  for (const v of usage.Volumes ?? [])
    volumeRows.push(`${v.Name}\t${v.UsageData?.RefCount ?? 0}\t${dfSize(Math.max(0, v.UsageData?.Size ?? 0))}`);
  return [
    `Images space usage:\n\n${tabwrite(`${images.join('\n')}\n`, 0, 3)}`,
    `Containers space usage:\n\n${tabwrite(`${containers.join('\n')}\n`, 0, 3)}`,
    `Local Volumes space usage:\n\n${tabwrite(`${volumeRows.join('\n')}\n`, 0, 3)}`,
    'Build cache usage: 0B\n',
  ].join('\n');
}

export const systemDfCommand: Command = {
  name: 'df',
  usage: '[OPTIONS]',
  summary: 'Show berth disk usage',
  aliases: `${PROG} system df`,
  flags: [{ long: 'verbose', short: 'v', kind: 'bool', help: 'Show detailed information on space usage' }],
  maxArgs: 0,
  async run(ctx, flags) {
    const usage = await ctx.client().diskUsage();
    ctx.io.stdout.write(flags.bool('verbose') ? formatDiskUsageVerbose(usage, ctx.io.now()) : formatDiskUsage(usage));
    return 0;
  },
};
