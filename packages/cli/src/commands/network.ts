import type { NetworkCreateRequest, NetworkInspect } from '@berth/core';
import { type Command, forEachName, PROG } from '../command.js';
import { StatusError } from '../errors.js';
import { isDefaultTable, renderList } from '../format/list.js';
import { truncateId } from '../format/table.js';
import { inspectEach } from './inspect.js';
import { parseFilters } from './ps.js';

const DEFAULT_NETWORKS_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
const NETWORK_HEADERS: Record<string, unknown> = { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', Internal: 'INTERNAL' };

/** `key=value` flags (`--label`, `-o`) as a map. */
function keyValues(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    out[eq < 0 ? kv : kv.slice(0, eq)] = eq < 0 ? '' : kv.slice(eq + 1);
  }
  return out;
}

export const networkCreateCommand: Command = {
  name: 'create',
  usage: '[OPTIONS] NETWORK',
  summary: 'Create a network',
  aliases: `${PROG} network create`,
  flags: [
    { long: 'driver', short: 'd', kind: 'string', help: 'Driver to manage the Network', def: '"bridge"' },
    { long: 'gateway', kind: 'list', help: 'IPv4 Gateway for the master subnet' },
    { long: 'internal', kind: 'bool', help: 'Restrict external access to the network' },
    { long: 'ipam-driver', kind: 'string', help: 'IP Address Management Driver', def: '"default"' },
    { long: 'ipam-opt', kind: 'list', meta: 'map', help: 'Set IPAM driver specific options' },
    { long: 'ip-range', kind: 'list', help: 'Allocate container ip from a sub-range' },
    { long: 'label', kind: 'list', help: 'Set metadata on a network' },
    { long: 'opt', short: 'o', kind: 'list', meta: 'map', help: 'Set driver specific options' },
    { long: 'subnet', kind: 'list', help: 'Subnet in CIDR format that represents a network segment' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, [name]) {
    const subnets = flags.list('subnet');
    const gateways = flags.list('gateway');
    const ranges = flags.list('ip-range');
    if (subnets.length > 1) throw new StatusError('berth supports one subnet per network', 1);
    if ((gateways.length || ranges.length) && !subnets.length) throw new StatusError('no matching subnet for gateway or range', 1);
    const config = subnets.length
      ? [{ Subnet: subnets[0]!, ...(gateways[0] ? { Gateway: gateways[0] } : {}), ...(ranges[0] ? { IPRange: ranges[0] } : {}) }]
      : [];
    const request: NetworkCreateRequest = {
      Name: name!,
      Driver: flags.string('driver') ?? 'bridge',
      Internal: flags.bool('internal'),
      Options: keyValues(flags.list('opt')),
      Labels: keyValues(flags.list('label')),
      IPAM: { Driver: flags.string('ipam-driver') || 'default', Config: config, Options: keyValues(flags.list('ipam-opt')) },
    };
    const created = await ctx.client().networks.create(request);
    ctx.io.stdout.write(`${created.Id}\n`);
    return 0;
  },
};

export const networkLsCommand: Command = {
  name: 'ls',
  usage: '[OPTIONS]',
  summary: 'List networks',
  aliases: `${PROG} network ls, ${PROG} network list`,
  flags: [
    { long: 'filter', short: 'f', kind: 'list', meta: 'filter', help: "Provide filter values (e.g. 'driver=bridge')" },
    { long: 'format', kind: 'string', help: "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'" },
    { long: 'no-trunc', kind: 'bool', help: 'Do not truncate the output' },
    { long: 'quiet', short: 'q', kind: 'bool', help: 'Only display network IDs' },
  ],
  maxArgs: 0,
  async run(ctx, flags) {
    const networks = await ctx.client().networks.list(parseFilters(flags.list('filter')));
    networks.sort((a, b) => a.Name.localeCompare(b.Name));
    const trunc = !flags.bool('no-trunc');
    if (flags.bool('quiet')) {
      ctx.io.stdout.write(networks.map((n) => `${trunc ? truncateId(n.Id) : n.Id}\n`).join(''));
      return 0;
    }
    const rows = networks.map((n: NetworkInspect) => ({
      ID: trunc ? truncateId(n.Id) : n.Id,
      Name: n.Name,
      Driver: n.Driver,
      Scope: n.Scope,
      Internal: String(n.Internal),
      Labels: Object.entries(n.Labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    }));
    const format = flags.string('format');
    ctx.io.stdout.write(renderList(isDefaultTable(format) ? DEFAULT_NETWORKS_FORMAT : format!, rows, NETWORK_HEADERS));
    return 0;
  },
};

export const networkInspectCommand: Command = {
  name: 'inspect',
  usage: '[OPTIONS] NETWORK [NETWORK...]',
  summary: 'Display detailed information on one or more networks',
  aliases: `${PROG} network inspect`,
  flags: [{ long: 'format', short: 'f', kind: 'string', help: 'Format the output using the given Go template' }],
  minArgs: 1,
  async run(ctx, flags, names) {
    const client = ctx.client();
    return inspectEach(ctx, flags, names, (n) => client.networks.inspect(n));
  },
};

export const networkRmCommand: Command = {
  name: 'rm',
  usage: 'NETWORK [NETWORK...]',
  summary: 'Remove one or more networks',
  aliases: `${PROG} network rm, ${PROG} network remove`,
  flags: [{ long: 'force', short: 'f', kind: 'bool', help: 'Do not error if the network does not exist' }],
  minArgs: 1,
  async run(ctx, flags, names) {
    const client = ctx.client();
    const failed = await forEachName(ctx, names, (n) =>
      client.networks.remove(n).catch((err: unknown) => {
        if (flags.bool('force') && (err as { status?: number }).status === 404) return;
        throw err;
      }),
    );
    return failed.length ? 1 : 0;
  },
};

export const networkPruneCommand: Command = {
  name: 'prune',
  usage: '[OPTIONS]',
  summary: 'Remove all unused networks',
  aliases: `${PROG} network prune`,
  flags: [
    { long: 'filter', kind: 'list', help: 'Provide filter values (e.g. "until=<timestamp>")' },
    { long: 'force', short: 'f', kind: 'bool', help: 'Do not prompt for confirmation' },
  ],
  maxArgs: 0,
  async run(ctx, flags) {
    const report = await ctx.client().networks.prune(parseFilters(flags.list('filter')));
    const deleted = report.NetworksDeleted ?? [];
    if (deleted.length) ctx.io.stdout.write(`Deleted Networks:\n${deleted.join('\n')}\n\n`);
    return 0;
  },
};

export const networkConnectCommand: Command = {
  name: 'connect',
  usage: '[OPTIONS] NETWORK CONTAINER',
  summary: 'Connect a container to a network',
  aliases: `${PROG} network connect`,
  flags: [
    { long: 'alias', kind: 'list', help: 'Add network-scoped alias for the container' },
    {
      long: 'gw-priority',
      kind: 'string',
      help: 'Highest gw-priority provides the default gateway. Accepts positive and negative values.',
    },
    { long: 'ip', kind: 'string', help: 'IPv4 address (e.g., "172.30.100.104")' },
  ],
  minArgs: 2,
  maxArgs: 2,
  async run(ctx, flags, [network, container]) {
    const ip = flags.string('ip');
    const aliases = flags.list('alias');
    const priority = flags.string('gw-priority');
    if (priority !== undefined && !/^-?\d+$/.test(priority))
      throw new StatusError(`invalid argument "${priority}" for "--gw-priority" flag: not an integer`, 125);
    await ctx.client().networks.connect(network!, {
      Container: container!,
      EndpointConfig: {
        ...(ip ? { IPAMConfig: { IPv4Address: ip } } : {}),
        ...(aliases.length ? { Aliases: aliases } : {}),
        ...(priority !== undefined ? { GwPriority: Number(priority) } : {}),
      },
    });
    return 0;
  },
};

export const networkDisconnectCommand: Command = {
  name: 'disconnect',
  usage: '[OPTIONS] NETWORK CONTAINER',
  summary: 'Disconnect a container from a network',
  aliases: `${PROG} network disconnect`,
  flags: [{ long: 'force', short: 'f', kind: 'bool', help: 'Force the container to disconnect from a network' }],
  minArgs: 2,
  maxArgs: 2,
  async run(ctx, flags, [network, container]) {
    await ctx.client().networks.disconnect(network!, { Container: container!, Force: flags.bool('force') });
    return 0;
  },
};
