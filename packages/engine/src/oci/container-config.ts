import { type ContainerCreateBody, InvalidArgument } from '@berth/core';

/**
 * How Docker merges an image's config with a create request: the command
 * (Entrypoint + Cmd) and the environment. Pure functions with Docker's rules.
 */

/** The run-time part of an OCI image config (`config` of the image config JSON). */
export interface ImageRunConfig {
  User?: string;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  StopSignal?: string;
  Volumes?: Record<string, object> | null;
  Labels?: Record<string, string> | null;
  /** The image's EXPOSE (`80/tcp`); a container exposes these and its own (`--expose`, `-p`). */
  ExposedPorts?: Record<string, object> | null;
  /** The image's HEALTHCHECK (durations in nanoseconds). */
  Healthcheck?: ContainerCreateBody['Healthcheck'];
}

/** The default PATH when neither image nor request sets one. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The API accepts a string where a list is expected (`"Cmd": "echo hi"` = `["echo hi"]`). */
export function toList(value: string[] | string | null | undefined): string[] | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? [value] : [...value];
}

/**
 * The entrypoint and command that run, by Docker's rules: a request Entrypoint replaces
 * the image's and drops the image's Cmd; an empty request Entrypoint (`--entrypoint ""`,
 * sent as `[""]`) clears the image's Entrypoint but keeps its Cmd unless the request has
 * one; a request Cmd replaces the image's Cmd.
 */
export function effectiveCommand(
  request: { Entrypoint?: string[] | string | null; Cmd?: string[] | string | null },
  image: ImageRunConfig | undefined,
): { entrypoint: string[]; cmd: string[] } {
  let entrypoint = toList(request.Entrypoint);
  if (entrypoint && entrypoint.length === 1 && entrypoint[0] === '') entrypoint = [];
  let cmd = toList(request.Cmd);
  if (!entrypoint || entrypoint.length === 0) {
    if (!cmd || cmd.length === 0) cmd = toList(image?.Cmd) ?? [];
    if (!entrypoint) entrypoint = toList(image?.Entrypoint) ?? [];
  }
  return { entrypoint, cmd: cmd ?? [] };
}

/** The process's argv: the effective entrypoint then command. An empty result is an error. */
export function mergeCommand(
  request: { Entrypoint?: string[] | string | null; Cmd?: string[] | string | null },
  image: ImageRunConfig | undefined,
): string[] {
  const { entrypoint, cmd } = effectiveCommand(request, image);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0 || args[0] === '') throw new InvalidArgument('no command specified');
  return args;
}

function keyOf(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

/**
 * Overlay `overrides` on `base` by key: a key present in both keeps its position in
 * `base` with the new value, new keys are appended, and an entry without `=`
 * removes the key (Docker's "unset" form).
 */
export function overlayEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const out = [...base];
  for (const entry of overrides) {
    const key = keyOf(entry);
    if (key === '' || entry.includes('\0')) throw new InvalidArgument(`invalid environment variable: ${JSON.stringify(entry)}`);
    const at = out.findIndex((e) => keyOf(e) === key);
    if (!entry.includes('=')) {
      if (at >= 0) out.splice(at, 1);
    } else if (at >= 0) {
      out[at] = entry;
    } else {
      out.push(entry);
    }
  }
  return out;
}

/**
 * The container's environment as Docker builds it: PATH (default) and HOSTNAME, TERM
 * when there is a terminal, then the image's Env overlaid by the request's Env, then
 * HOME from the user's passwd entry if still unset.
 */
export function buildEnv(opts: {
  image: readonly string[] | null | undefined;
  request: readonly string[] | null | undefined;
  hostname: string | undefined;
  terminal: boolean;
  home: string;
}): string[] {
  const daemon = [`PATH=${DEFAULT_PATH}`];
  if (opts.hostname !== undefined) daemon.push(`HOSTNAME=${opts.hostname}`);
  if (opts.terminal) daemon.push('TERM=xterm');
  const config = overlayEnv(overlayEnv([], opts.image ?? []), opts.request ?? []);
  const env = overlayEnv(
    daemon,
    config.filter((e) => e.includes('=')),
  );
  if (!env.some((e) => keyOf(e) === 'HOME')) env.push(`HOME=${opts.home}`);
  return env;
}
