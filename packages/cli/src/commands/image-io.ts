import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { JsonMessage } from '@berth/client';
import { type Command, type CommandContext, PROG } from '../command.js';
import { StatusError } from '../errors.js';

/** A progress message as docker prints it without a terminal: `id: status progress` or the `stream` text. */
export function messageLine(m: JsonMessage): string {
  if (m.stream !== undefined) return m.stream;
  if (m.status === undefined) return '';
  const head = m.id ? `${m.id}: ` : '';
  return `${head}${m.status}${m.progress ? ` ${m.progress}` : ''}\n`;
}

function openInput(file: string): Readable {
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new StatusError(
      `open ${file}: ${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`,
      1,
    );
  }
  return fs.createReadStream(file);
}

export const importCommand: Command = {
  name: 'import',
  usage: '[OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  summary: 'Import the contents from a tarball to create a filesystem image',
  aliases: `${PROG} image import, ${PROG} import`,
  flags: [
    { long: 'change', short: 'c', kind: 'list', help: 'Apply Dockerfile instruction to the created image' },
    { long: 'message', short: 'm', kind: 'string', help: 'Set commit message for imported image' },
    { long: 'platform', kind: 'string', help: 'Set platform if server is multi-platform capable', hidden: true },
  ],
  minArgs: 1,
  maxArgs: 2,
  async run(ctx, flags, [source, repository]) {
    let input: Readable | string;
    if (source === '-') input = ctx.io.stdin as Readable;
    else if (/^https?:\/\//.test(source!)) input = source!;
    else input = openInput(source!);
    await ctx.client().images.import(input, {
      // Like the docker CLI: `repo:tag` travels whole in `repo`.
      repo: repository,
      message: flags.string('message'),
      changes: flags.list('change'),
      onProgress: (m) => ctx.io.stdout.write(messageLine(m)),
    });
    return 0;
  },
};

export const loadCommand: Command = {
  name: 'load',
  usage: '[OPTIONS]',
  summary: 'Load an image from a tar archive or STDIN',
  aliases: `${PROG} image load, ${PROG} load`,
  flags: [
    { long: 'input', short: 'i', kind: 'string', help: 'Read from tar archive file, instead of STDIN' },
    { long: 'quiet', short: 'q', kind: 'bool', help: 'Suppress the load output' },
    { long: 'platform', kind: 'list', help: 'Load only the given platform(s)', hidden: true },
  ],
  maxArgs: 0,
  async run(ctx, flags) {
    const file = flags.string('input');
    let input: Readable;
    if (file) input = openInput(file);
    else if (ctx.io.stdin.isTTY) throw new StatusError('requested load from stdin, but stdin is empty', 1);
    else input = ctx.io.stdin as Readable;
    await ctx.client().images.load(input, {
      quiet: flags.bool('quiet') || !ctx.io.stdout.isTTY,
      onProgress: (m) => ctx.io.stdout.write(messageLine(m)),
    });
    return 0;
  },
};

/** Copies the archive to `out`, resolving when all of it was written (the target is not ended). */
function copyTo(tar: Readable, out: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    tar.on('error', reject);
    tar.on('end', resolve);
    tar.pipe(out, { end: false });
  });
}

type SaveFormat = 'docker' | 'oci';

/** Writes to a temporary file beside `file` and renames it, so a failed save leaves nothing half-written. */
async function saveToFile(ctx: CommandContext, names: string[], file: string, format: SaveFormat | undefined): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${PROG}_temp_${process.pid}_${Date.now()}`);
  const tar = await ctx.client().images.save(names, { format });
  const out = fs.createWriteStream(tmp, { mode: 0o644 });
  try {
    await new Promise<void>((resolve, reject) => {
      tar.on('error', reject);
      out.on('error', reject);
      out.on('finish', resolve);
      tar.pipe(out);
    });
    fs.renameSync(tmp, file);
  } catch (err) {
    out.destroy();
    fs.rmSync(tmp, { force: true });
    throw new StatusError(`failed to save image: ${(err as Error).message}`, 1);
  }
}

export const saveCommand: Command = {
  name: 'save',
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  summary: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  aliases: `${PROG} image save, ${PROG} save`,
  flags: [
    { long: 'output', short: 'o', kind: 'string', help: 'Write to a file, instead of STDOUT' },
    { long: 'format', kind: 'string', help: 'Layout: "docker" (default) or "oci" (an OCI image layout, loadable as a docker-archive too)' },
    { long: 'platform', kind: 'list', help: 'Save only the given platform(s)', hidden: true },
  ],
  minArgs: 1,
  async run(ctx, flags, names) {
    const file = flags.string('output');
    const format = flags.string('format');
    if (format !== undefined && format !== 'docker' && format !== 'oci') {
      throw new StatusError(`invalid --format ${JSON.stringify(format)}: "docker" or "oci"`, 1);
    }
    if (file) {
      await saveToFile(ctx, names, file, format);
      return 0;
    }
    if (ctx.io.stdout.isTTY) throw new StatusError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
    await copyTo(await ctx.client().images.save(names, { format }), ctx.io.stdout);
    return 0;
  },
};
