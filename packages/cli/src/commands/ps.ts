import type { ContainerSummary } from '@berth/core';
import { type Command, PROG } from '../command.js';
import { StatusError } from '../errors.js';
import { isDefaultTable, renderList } from '../format/list.js';
import { displayablePorts } from '../format/ports.js';
import { ellipsis, goQuote, truncateId } from '../format/table.js';
import { goTimeString } from '../format/time.js';
import { humanSize, timeAgo } from '../format/units.js';

export const DEFAULT_PS_FORMAT = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

/** Column titles of `ps` tables, by field. */
export const PS_HEADERS: Record<string, unknown> = {
  ID: 'CONTAINER ID',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
  Label: (name: unknown) => String(name).toUpperCase(),
};

/** One container as `ps` templates see it: docker's ContainerContext fields. */
export class ContainerRow {
  constructor(
    private readonly c: ContainerSummary,
    private readonly trunc: boolean,
    private readonly nowMs: number,
  ) {}

  get ID(): string {
    return this.trunc ? truncateId(this.c.Id) : this.c.Id;
  }

  get Names(): string {
    const names = (this.c.Names ?? []).map((n) => n.replace(/^\//, ''));
    if (this.trunc) return names.find((n) => !n.includes('/')) ?? '';
    return names.join(',');
  }

  get Image(): string {
    const image = this.c.Image;
    if (!image) return '<no image>';
    if (!this.trunc) return image;
    if (this.c.ImageID && truncateId(this.c.ImageID) === truncateId(image)) return truncateId(image);
    return image
      .replace(/@sha256:[0-9a-f]+$/, '')
      .replace(/^docker\.io\/library\//, '')
      .replace(/^docker\.io\//, '');
  }

  get Command(): string {
    const command = this.c.Command ?? '';
    return goQuote(this.trunc ? ellipsis(command, 20) : command);
  }

  get CreatedAt(): string {
    return goTimeString(this.c.Created);
  }

  get RunningFor(): string {
    return timeAgo(this.c.Created, this.nowMs);
  }

  get Ports(): string {
    return displayablePorts(this.c.Ports);
  }

  get State(): string {
    return this.c.State ?? '';
  }

  get Status(): string {
    return this.c.Status ?? '';
  }

  get Size(): string {
    const rw = humanSize(this.c.SizeRw ?? 0);
    return this.c.SizeRootFs && this.c.SizeRootFs > 0 ? `${rw} (virtual ${humanSize(this.c.SizeRootFs)})` : rw;
  }

  get Labels(): string {
    const labels = this.c.Labels ?? {};
    return Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(',');
  }

  Label(name: string): string {
    return this.c.Labels?.[name] ?? '';
  }

  get Mounts(): string {
    return (this.c.Mounts ?? []).map((m) => (this.trunc ? ellipsis(m.Name || m.Source, 15) : m.Name || m.Source)).join(',');
  }

  get LocalVolumes(): string {
    return String((this.c.Mounts ?? []).filter((m) => m.Driver === 'local').length);
  }

  get Networks(): string {
    return Object.keys(this.c.NetworkSettings?.Networks ?? {}).join(',');
  }

  /** `--format json`: every field, as docker marshals its context. */
  toJSON(): Record<string, string> {
    return {
      Command: this.Command,
      CreatedAt: this.CreatedAt,
      ID: this.ID,
      Image: this.Image,
      Labels: this.Labels,
      LocalVolumes: this.LocalVolumes,
      Mounts: this.Mounts,
      Names: this.Names,
      Networks: this.Networks,
      Ports: this.Ports,
      RunningFor: this.RunningFor,
      Size: this.Size,
      State: this.State,
      Status: this.Status,
    };
  }
}

/** `--filter key=value` flags as the API's filter map. */
export function parseFilters(list: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of list) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new StatusError(`bad format of filter (expected name=value)`, 1);
    const key = f.slice(0, eq).trim().toLowerCase();
    out[key] ??= [];
    out[key].push(f.slice(eq + 1));
  }
  return out;
}

/** The `ps` output for these containers: the default table, `-q`, `json` or a template. */
export function formatContainers(
  containers: ContainerSummary[],
  options: { quiet?: boolean; noTrunc?: boolean; format?: string; size?: boolean; nowMs: number },
): string {
  const rows = containers.map((c) => new ContainerRow(c, !options.noTrunc, options.nowMs));
  if (options.quiet) return rows.map((r) => `${r.ID}\n`).join('');
  let format = options.format;
  if (isDefaultTable(format)) format = DEFAULT_PS_FORMAT + (options.size ? '\t{{.Size}}' : '');
  return renderList(format!, rows, PS_HEADERS);
}

export const psCommand: Command = {
  name: 'ps',
  usage: '[OPTIONS]',
  summary: 'List containers',
  aliases: `${PROG} container ls, ${PROG} container list, ${PROG} container ps, ${PROG} ps`,
  flags: [
    { long: 'all', short: 'a', kind: 'bool', help: 'Show all containers (default shows just running)' },
    { long: 'filter', short: 'f', kind: 'list', meta: 'filter', help: 'Filter output based on conditions provided' },
    { long: 'format', kind: 'string', help: "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'" },
    { long: 'last', short: 'n', kind: 'int', help: 'Show n last created containers (includes all states)', def: '-1' },
    { long: 'latest', short: 'l', kind: 'bool', help: 'Show the latest created container (includes all states)' },
    { long: 'no-trunc', kind: 'bool', help: "Don't truncate output" },
    { long: 'quiet', short: 'q', kind: 'bool', help: 'Only display container IDs' },
    { long: 'size', short: 's', kind: 'bool', help: 'Display total file sizes' },
  ],
  maxArgs: 0,
  async run(ctx, flags) {
    const format = flags.string('format');
    const limit = flags.bool('latest') ? 1 : (flags.int('last') ?? -1);
    const size = flags.bool('size') || (!flags.bool('quiet') && !!format && format.includes('.Size'));
    const containers = await ctx.client().containers.list({
      all: flags.bool('all') || limit > 0,
      limit: limit > 0 ? limit : undefined,
      size,
      filters: parseFilters(flags.list('filter')),
    });
    ctx.io.stdout.write(
      formatContainers(containers, { quiet: flags.bool('quiet'), noTrunc: flags.bool('no-trunc'), format, size, nowMs: ctx.io.now() }),
    );
    return 0;
  },
};
