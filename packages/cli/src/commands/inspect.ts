import type { BerthClient } from '@berth/client';
import type { Flags } from '../argv.js';
import { type Command, type CommandContext, describeError, forEachName, PROG, printError } from '../command.js';
import { StatusError } from '../errors.js';
import { Template, TemplateError } from '../format/template.js';

type Kind = 'container' | 'image';

function isNotFound(err: unknown): boolean {
  return (err as { name?: string; status?: number }).name === 'ApiError' && (err as { status: number }).status === 404;
}

/** Finds `name` among the kinds in order (containers, then images), as `docker inspect` probes. */
async function lookup(client: BerthClient, name: string, kinds: Kind[]): Promise<unknown> {
  for (const kind of kinds) {
    try {
      return kind === 'container' ? await client.containers.inspect(name) : await client.images.inspect(name);
    } catch (err) {
      if (!isNotFound(err) || kinds.length === 1) throw err;
    }
  }
  throw Object.assign(new Error(`No such object: ${name}`), { notFound: true });
}

/**
 * The JSON array docker prints: 4-space indents, and `<`, `>`, `&` escaped as Go's
 * encoder writes them (the daemon's bytes, re-indented).
 */
export function inspectJson(items: unknown[]): string {
  if (!items.length) return '[]\n';
  return `${JSON.stringify(items, null, 4).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`)}\n`;
}

/** Prints each object with the template, one per line. */
export function inspectFormatted(items: unknown[], format: string): string {
  let source = format === 'json' ? '{{json .}}' : format;
  source = source.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  let template: Template;
  try {
    template = Template.parse(source);
  } catch (err) {
    throw new StatusError(`template parsing error: ${(err as Error).message}`, 1);
  }
  try {
    return items.map((item) => `${template.render(item)}\n`).join('');
  } catch (err) {
    if (err instanceof TemplateError) throw new StatusError(`template parsing error: ${err.message}`, 1);
    throw err;
  }
}

/** What `--format` asks of the objects: the template's lines, or docker's JSON array without it. */
function inspectOutput(items: unknown[], format: string | undefined): string {
  return format ? inspectFormatted(items, format) : inspectJson(items);
}

/**
 * `berth network inspect`, `berth volume inspect`: each of `names` looked up with `one`
 * (an error naming it printed, as forEachName does), what was found printed as docker
 * prints it; exit status 1 when any was not.
 */
export async function inspectEach<T>(
  ctx: CommandContext,
  flags: Flags,
  names: string[],
  one: (name: string) => Promise<T>,
): Promise<number> {
  const found: T[] = [];
  const failed = await forEachName(ctx, names, one, (_name, item) => void found.push(item));
  ctx.io.stdout.write(inspectOutput(found, flags.string('format')));
  return failed.length ? 1 : 0;
}

async function inspect(ctx: CommandContext, flags: Flags, names: string[], kinds: Kind[]): Promise<number> {
  const client = ctx.client();
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const name of names) {
    try {
      found.push(await lookup(client, name, kinds));
    } catch (err) {
      if ((err as { notFound?: boolean }).notFound) errors.push(`Error: ${(err as Error).message}`);
      else if (kinds.length === 1 && isNotFound(err)) errors.push(`Error: No such ${kinds[0]}: ${name}`);
      else errors.push(describeError(err));
    }
  }
  ctx.io.stdout.write(inspectOutput(found, flags.string('format')));
  for (const e of errors) printError(ctx, e);
  return errors.length ? 1 : 0;
}

const FLAGS = [
  { long: 'format', short: 'f', kind: 'string', help: "Format output using a custom template: 'json', 'TEMPLATE'" },
  { long: 'size', short: 's', kind: 'bool', help: 'Display total file sizes if the type is container', hidden: true },
] as const;

export const inspectCommand: Command = {
  name: 'inspect',
  usage: '[OPTIONS] NAME|ID [NAME|ID...]',
  summary: 'Return low-level information on berth objects',
  flags: [...FLAGS, { long: 'type', kind: 'string', help: 'Return JSON for specified type (container, image)' }],
  minArgs: 1,
  async run(ctx, flags, names) {
    const type = flags.string('type');
    if (type && type !== 'container' && type !== 'image') throw new StatusError(`"${type}" is not a valid value for --type`, 1);
    return inspect(ctx, flags, names, type ? [type as Kind] : ['container', 'image']);
  },
};

export const containerInspectCommand: Command = {
  name: 'inspect',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Display detailed information on one or more containers',
  aliases: `${PROG} container inspect`,
  flags: [...FLAGS],
  minArgs: 1,
  run: (ctx, flags, names) => inspect(ctx, flags, names, ['container']),
};

export const imageInspectCommand: Command = {
  name: 'inspect',
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  summary: 'Display detailed information on one or more images',
  aliases: `${PROG} image inspect`,
  flags: [FLAGS[0]],
  minArgs: 1,
  run: (ctx, flags, names) => inspect(ctx, flags, names, ['image']),
};
