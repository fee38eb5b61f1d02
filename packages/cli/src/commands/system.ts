import type { PluginStatus, SystemInfo, VersionInfo } from '@berth/core';
import { type Command, describeError, PROG, printError } from '../command.js';
import { StatusError } from '../errors.js';
import { isDefaultTable, renderList } from '../format/list.js';
import { tabwrite } from '../format/table.js';
import { Template } from '../format/template.js';
import { bytesSize } from '../format/units.js';
import { CLI_VERSION } from '../version.js';

/** The client half of `version`, with docker's field names. */
export interface ClientVersion {
  Platform: { Name: string };
  Version: string;
  ApiVersion: string;
  DefaultAPIVersion: string;
  NodeVersion: string;
  Os: string;
  Arch: string;
  Context: string;
}

function goArch(arch: string): string {
  return (
    ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[arch] ?? arch
  );
}

export function clientVersion(apiVersion: string): ClientVersion {
  return {
    Platform: { Name: 'berth' },
    Version: CLI_VERSION,
    ApiVersion: apiVersion,
    DefaultAPIVersion: apiVersion,
    NodeVersion: process.version,
    Os: process.platform,
    Arch: goArch(process.arch),
    Context: 'default',
  };
}

function renderFormat(format: string, data: unknown): string {
  const source = format === 'json' ? '{{json .}}' : format;
  try {
    return `${Template.parse(source.replace(/\\t/g, '\t').replace(/\\n/g, '\n')).render(data)}\n`;
  } catch (err) {
    throw new StatusError(`template parsing error: ${(err as Error).message}`, 1);
  }
}

/** `version`'s text: the client, then each server component, aligned like docker (tabwriter 20/1). */
export function formatVersion(client: ClientVersion, server: VersionInfo | undefined): string {
  let text = `Client: ${client.Platform.Name}\n`;
  text += ` Version:\t${client.Version}\n API version:\t${client.ApiVersion}\n Node version:\t${client.NodeVersion}\n`;
  text += ` OS/Arch:\t${client.Os}/${client.Arch}\n Context:\t${client.Context}\n`;
  if (server) {
    text += `\nServer:${server.Platform?.Name ? ` ${server.Platform.Name}` : ''}\n`;
    const components = server.Components?.length ? server.Components : [{ Name: 'Engine', Version: server.Version, Details: {} }];
    for (const c of components) {
      text += ` ${c.Name}:\n`;
      if (c.Name === 'Engine') {
        const d = c.Details ?? {};
        const pick = (k: keyof VersionInfo): string => (d[k] as string | undefined) ?? (server[k] as string | undefined) ?? '';
        text += `  Version:\t${c.Version || server.Version}\n`;
        text += `  API version:\t${pick('ApiVersion')} (minimum version ${pick('MinAPIVersion')})\n`;
        if (pick('GoVersion')) text += `  Go version:\t${pick('GoVersion')}\n`;
        if (pick('GitCommit')) text += `  Git commit:\t${pick('GitCommit')}\n`;
        if (pick('BuildTime')) text += `  Built:\t${pick('BuildTime')}\n`;
        text += `  OS/Arch:\t${pick('Os')}/${pick('Arch')}\n`;
        if (pick('KernelVersion')) text += `  Kernel version:\t${pick('KernelVersion')}\n`;
      } else {
        text += `  Version:\t${c.Version}\n`;
        for (const [k, v] of Object.entries(c.Details ?? {})) text += `  ${k}:\t${v}\n`;
      }
    }
  }
  return tabwrite(text, 20, 1);
}

export const versionCommand: Command = {
  name: 'version',
  usage: '[OPTIONS]',
  summary: 'Show the berth version information',
  flags: [{ long: 'format', short: 'f', kind: 'string', help: "Format output using a custom template: 'json', 'TEMPLATE'" }],
  maxArgs: 0,
  async run(ctx, flags) {
    const client = ctx.client();
    const mine = clientVersion(client.apiVersion);
    let server: VersionInfo | undefined;
    let failure: unknown;
    try {
      server = await client.version();
    } catch (err) {
      failure = err;
    }
    const format = flags.string('format');
    ctx.io.stdout.write(format ? renderFormat(format, { Client: mine, Server: server ?? null }) : formatVersion(mine, server));
    if (failure) {
      printError(ctx, describeError(failure));
      return 1;
    }
    return 0;
  },
};

/** `name=seccomp,profile=default` → `  seccomp` + `   Profile: default`, as `docker info` lists security options. */
function securityOptions(opts: string[]): string {
  let out = '';
  for (const opt of opts) {
    const fields = Object.fromEntries(opt.split(',').map((kv) => kv.split('=') as [string, string]));
    out += `  ${fields.name ?? opt}\n`;
    for (const [k, v] of Object.entries(fields)) {
      if (k !== 'name') out += `   ${k[0]!.toUpperCase()}${k.slice(1)}: ${v}\n`;
    }
  }
  return out;
}

/** `info`'s text, docker's layout with berth's plugin list at the end. Returns [stdout, warnings]. */
export function formatInfo(info: Partial<SystemInfo>): [string, string[]] {
  const lines: string[] = [];
  const add = (s: string): void => void lines.push(s);
  add('Client:');
  add(` Version:    ${CLI_VERSION}`);
  add(' Context:    default');
  add(' Debug Mode: false');
  add('');
  add('Server:');
  add(` Containers: ${info.Containers ?? 0}`);
  add(`  Running: ${info.ContainersRunning ?? 0}`);
  add(`  Paused: ${info.ContainersPaused ?? 0}`);
  add(`  Stopped: ${info.ContainersStopped ?? 0}`);
  add(` Images: ${info.Images ?? 0}`);
  add(` Server Version: ${info.ServerVersion ?? ''}`);
  add(` Storage Driver: ${info.Driver ?? ''}`);
  for (const [k, v] of info.DriverStatus ?? []) add(`  ${k}: ${v}`);
  add(` Logging Driver: ${info.LoggingDriver ?? ''}`);
  add(` Cgroup Driver: ${info.CgroupDriver ?? ''}`);
  add(` Cgroup Version: ${info.CgroupVersion ?? ''}`);
  add(' Plugins:');
  add(`  Volume: ${(info.Plugins?.Volume ?? []).join(' ')}`);
  add(`  Network: ${(info.Plugins?.Network ?? []).join(' ')}`);
  add(`  Log: ${(info.Plugins?.Log ?? []).join(' ')}`);
  add(` Runtimes: ${Object.keys(info.Runtimes ?? {}).join(' ')}`);
  add(` Default Runtime: ${info.DefaultRuntime ?? ''}`);
  if (info.SecurityOptions?.length) {
    add(' Security Options:');
    lines.push(securityOptions(info.SecurityOptions).replace(/\n$/, ''));
  }
  add(` Kernel Version: ${info.KernelVersion ?? ''}`);
  add(` Operating System: ${info.OperatingSystem ?? ''}`);
  add(` OSType: ${info.OSType ?? ''}`);
  add(` Architecture: ${info.Architecture ?? ''}`);
  add(` CPUs: ${info.NCPU ?? 0}`);
  add(` Total Memory: ${bytesSize(info.MemTotal ?? 0)}`);
  add(` Name: ${info.Name ?? ''}`);
  add(` ID: ${info.ID ?? ''}`);
  add(` Berth Root Dir: ${info.DockerRootDir ?? ''}`);
  add(` Debug Mode: ${info.Debug ?? false}`);
  if (info.Labels?.length) {
    add(' Labels:');
    for (const l of info.Labels) add(`  ${l}`);
  }
  add(` Live Restore Enabled: ${info.LiveRestoreEnabled ?? false}`);
  if (info.BerthPlugins?.length) {
    add(' Berth Plugins:');
    for (const p of info.BerthPlugins) add(`  ${p.kind} ${p.name}: ${p.status}${p.reason ? ` (${p.reason})` : ''}`);
  }
  return [`${lines.join('\n')}\n`, info.Warnings ?? []];
}

export const infoCommand: Command = {
  name: 'info',
  usage: '[OPTIONS]',
  summary: 'Display system-wide information',
  aliases: `${PROG} system info, ${PROG} info`,
  flags: [{ long: 'format', short: 'f', kind: 'string', help: "Format output using a custom template: 'json', 'TEMPLATE'" }],
  maxArgs: 0,
  async run(ctx, flags) {
    const info = await ctx.client().info();
    const format = flags.string('format');
    if (format) {
      ctx.io.stdout.write(renderFormat(format, info));
      return 0;
    }
    const [text, warnings] = formatInfo(info);
    ctx.io.stdout.write(text);
    for (const w of warnings) printError(ctx, w.startsWith('WARNING') ? w : `WARNING: ${w}`);
    return 0;
  },
};

/** One plugin as `plugins ls` templates see it. */
function pluginRow(p: PluginStatus): Record<string, string> {
  return { Kind: p.kind, Name: p.name, Status: p.status, Reason: p.reason ?? '', Description: p.description ?? '' };
}

export const PLUGINS_FORMAT = 'table {{.Kind}}\t{{.Name}}\t{{.Status}}\t{{.Reason}}';
const PLUGINS_HEADERS = { Kind: 'KIND', Name: 'NAME', Status: 'STATUS', Reason: 'REASON', Description: 'DESCRIPTION' };

/** `plugins ls`: KIND NAME STATUS REASON, or the given `--format`. */
export function formatPlugins(plugins: PluginStatus[], format?: string): string {
  return renderList(isDefaultTable(format) ? PLUGINS_FORMAT : format!, plugins.map(pluginRow), PLUGINS_HEADERS);
}

export const pluginsLsCommand: Command = {
  name: 'ls',
  usage: '[OPTIONS]',
  summary: "List berthd's plugins with their status (ok, skipped, error) and the reason",
  aliases: `${PROG} plugins ls, ${PROG} plugins list`,
  flags: [{ long: 'format', kind: 'string', help: "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'" }],
  maxArgs: 0,
  async run(ctx, flags) {
    ctx.io.stdout.write(formatPlugins(await ctx.client().plugins(), flags.string('format')));
    return 0;
  },
};
