import type { PortBinding } from '@berth/core';
import { type Command, PROG } from '../command.js';
import { StatusError } from '../errors.js';

/**
 * The lines `port` prints for a container's NetworkSettings.Ports: `80/tcp -> 0.0.0.0:32768`
 * for each binding, ports in numeric order; with `wanted` (`80`, `80/udp`; tcp by
 * default) only that port's addresses, `0.0.0.0:32768`. Undefined when `wanted` is not published.
 */
export function portLines(ports: Record<string, PortBinding[] | null> | undefined, wanted?: string): string[] | undefined {
  const keys = Object.keys(ports ?? {}).sort((a, b) => {
    const [pa, ta] = a.split('/') as [string, string];
    const [pb, tb] = b.split('/') as [string, string];
    return Number(pa) - Number(pb) || ta.localeCompare(tb);
  });
  const address = (b: PortBinding) => `${b.HostIp || '0.0.0.0'}:${b.HostPort}`;
  if (wanted === undefined) return keys.flatMap((key) => (ports?.[key] ?? []).map((b) => `${key} -> ${address(b)}`));
  const key = wanted.includes('/') ? wanted : `${wanted}/tcp`;
  const bindings = ports?.[key];
  return bindings && bindings.length > 0 ? bindings.map(address) : undefined;
}

export const portCommand: Command = {
  name: 'port',
  usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]',
  summary: 'List port mappings or a specific mapping for the container',
  aliases: `${PROG} container port, ${PROG} port`,
  flags: [],
  minArgs: 1,
  maxArgs: 2,
  async run(ctx, _flags, [container, wanted]) {
    const inspect = await ctx.client().containers.inspect(container!);
    const lines = portLines(inspect.NetworkSettings?.Ports, wanted);
    if (!lines)
      throw new StatusError(`Error: No public port '${wanted!.includes('/') ? wanted : `${wanted}/tcp`}' published for ${container}`, 1);
    if (lines.length > 0) ctx.io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
