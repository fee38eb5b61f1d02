import type { Volume } from '@berth/core';
import { type Command, forEachName, PROG } from '../command.js';
import { isDefaultTable, renderList } from '../format/list.js';
import { humanSize } from '../format/units.js';
import { inspectEach } from './inspect.js';
import { parseFilters } from './ps.js';

const DEFAULT_VOLUMES_FORMAT = 'table {{.Driver}}\t{{.Name}}';
const VOLUME_HEADERS: Record<string, unknown> = {
  Name: 'VOLUME NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  CreatedAt: 'CREATED',
};

/** `key=value` flags (`--label`, `-o`) as a map; a bare key has the empty value, as docker's. */
function keyValues(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    out[eq < 0 ? kv : kv.slice(0, eq)] = eq < 0 ? '' : kv.slice(eq + 1);
  }
  return out;
}

export const volumeCreateCommand: Command = {
  name: 'create',
  usage: '[OPTIONS] [VOLUME]',
  summary: 'Create a volume',
  aliases: `${PROG} volume create`,
  flags: [
    { long: 'driver', short: 'd', kind: 'string', help: 'Specify volume driver name', def: '"local"' },
    { long: 'label', kind: 'list', help: 'Set metadata for a volume' },
    { long: 'name', kind: 'string', help: 'Specify volume name' },
    { long: 'opt', short: 'o', kind: 'list', meta: 'map', help: 'Set driver specific options' },
  ],
  maxArgs: 1,
  async run(ctx, flags, [positional]) {
    const named = flags.string('name');
    if (named && positional && named !== positional) {
      ctx.io.stderr.write(`Conflicting options: either specify --name or provide positional arg, not both\n`);
      return 1;
    }
    const volume = await ctx.client().volumes.create({
      Name: positional ?? named ?? '',
      Driver: flags.string('driver') ?? 'local',
      DriverOpts: keyValues(flags.list('opt')),
      Labels: keyValues(flags.list('label')),
    });
    ctx.io.stdout.write(`${volume.Name}\n`);
    return 0;
  },
};

export const volumeLsCommand: Command = {
  name: 'ls',
  usage: '[OPTIONS]',
  summary: 'List volumes',
  aliases: `${PROG} volume ls, ${PROG} volume list`,
  flags: [
    { long: 'filter', short: 'f', kind: 'list', meta: 'filter', help: "Provide filter values (e.g. 'dangling=true')" },
    { long: 'format', kind: 'string', help: "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'" },
    { long: 'quiet', short: 'q', kind: 'bool', help: 'Only display volume names' },
  ],
  maxArgs: 0,
  async run(ctx, flags) {
    const { Volumes: volumes } = await ctx.client().volumes.list(parseFilters(flags.list('filter')));
    volumes.sort((a, b) => a.Name.localeCompare(b.Name));
    if (flags.bool('quiet')) {
      ctx.io.stdout.write(volumes.map((v) => `${v.Name}\n`).join(''));
      return 0;
    }
    const rows = volumes.map((v: Volume) => ({
      Name: v.Name,
      Driver: v.Driver,
      Scope: v.Scope,
      Mountpoint: v.Mountpoint,
      CreatedAt: v.CreatedAt,
      Labels: Object.entries(v.Labels ?? {})
        .map(([k, val]) => `${k}=${val}`)
        .join(','),
    }));
    const format = flags.string('format');
    ctx.io.stdout.write(renderList(isDefaultTable(format) ? DEFAULT_VOLUMES_FORMAT : format!, rows, VOLUME_HEADERS));
    return 0;
  },
};

export const volumeInspectCommand: Command = {
  name: 'inspect',
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  summary: 'Display detailed information on one or more volumes',
  aliases: `${PROG} volume inspect`,
  flags: [{ long: 'format', short: 'f', kind: 'string', help: 'Format the output using the given Go template' }],
  minArgs: 1,
  async run(ctx, flags, names) {
    const client = ctx.client();
    return inspectEach(ctx, flags, names, (n) => client.volumes.inspect(n));
  },
};

export const volumeRmCommand: Command = {
  name: 'rm',
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  summary: 'Remove one or more volumes',
  aliases: `${PROG} volume rm, ${PROG} volume remove`,
  flags: [{ long: 'force', short: 'f', kind: 'bool', help: 'Force the removal of one or more volumes' }],
  minArgs: 1,
  async run(ctx, flags, names) {
    const client = ctx.client();
    const failed = await forEachName(ctx, names, (n) => client.volumes.remove(n, flags.bool('force')));
    return failed.length ? 1 : 0;
  },
};

export const volumePruneCommand: Command = {
  name: 'prune',
  usage: '[OPTIONS]',
  summary: 'Remove unused local volumes',
  aliases: `${PROG} volume prune`,
  flags: [
    { long: 'filter', kind: 'list', help: 'Provide filter values (e.g. "label=<label>")' },
    { long: 'force', short: 'f', kind: 'bool', help: 'Do not prompt for confirmation' },
  ],
  maxArgs: 0,
  async run(ctx, flags) {
    const report = await ctx.client().volumes.prune(parseFilters(flags.list('filter')));
    const deleted = report.VolumesDeleted ?? [];
    if (deleted.length) ctx.io.stdout.write(`Deleted Volumes:\n${deleted.join('\n')}\n\n`);
    ctx.io.stdout.write(`Total reclaimed space: ${humanSize(report.SpaceReclaimed)}\n`);
    return 0;
  },
};
