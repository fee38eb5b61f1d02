import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { ApiError } from '@berth/client';
import { BuildDisplay } from '../build/build-display.js';
import { contextTar } from '../build/context-tar.js';
import { type Command, PROG } from '../command.js';
import { StatusError } from '../errors.js';

/**
 * `berth build`, as `docker build` with the classic builder: the context is a directory
 * (sent as a tar), `-` (stdin: a tar or a Dockerfile alone), or a URL or git repository
 * the daemon fetches (`remote`). A Dockerfile from outside the context (`-f /elsewhere`,
 * `-f -`) travels in the tar as `.dockerfile.<random>`, listed in the tar's
 * `.dockerignore` so `COPY .` does not take it, as the docker CLI does. The daemon
 * applies `.dockerignore` to what COPY and ADD take; the whole directory is sent.
 * A failed RUN exits with the RUN's exit code.
 */
export const buildCommand: Command = {
  name: 'build',
  usage: '[OPTIONS] PATH | URL | -',
  summary: 'Build an image from a Dockerfile',
  aliases: `${PROG} image build, ${PROG} build, ${PROG} builder build`,
  flags: [
    { long: 'build-arg', kind: 'list', help: 'Set build-time variables' },
    { long: 'file', short: 'f', kind: 'string', help: "Name of the Dockerfile (Default is 'PATH/Dockerfile')" },
    { long: 'iidfile', kind: 'string', help: 'Write the image ID to the file' },
    { long: 'label', kind: 'list', help: 'Set metadata for an image' },
    { long: 'network', kind: 'string', help: 'Set the networking mode for the RUN instructions during build' },
    { long: 'no-cache', kind: 'bool', help: 'Do not use cache when building the image' },
    { long: 'pull', kind: 'bool', help: 'Always attempt to pull a newer version of the image' },
    { long: 'quiet', short: 'q', kind: 'bool', help: 'Suppress the build output and print image ID on success' },
    {
      long: 'secret',
      kind: 'list',
      help: 'Secret to expose to the build (format: "id=mysecret[,src=/local/secret]" or "id=mysecret,env=VAR")',
    },
    { long: 'tag', short: 't', kind: 'list', help: "Name and optionally a tag in the 'name:tag' format" },
    { long: 'target', kind: 'string', help: 'Set the target build stage to build.' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, [source]) {
    const file = flags.string('file');
    const quiet = flags.bool('quiet');
    const buildArgs: Record<string, string | undefined> = {};
    for (const arg of flags.list('build-arg')) {
      const eq = arg.indexOf('=');
      // `--build-arg NAME` takes NAME from the environment, or passes it unset.
      if (eq < 0) buildArgs[arg] = ctx.io.env[arg];
      else buildArgs[arg.slice(0, eq)] = arg.slice(eq + 1);
    }
    const labels: Record<string, string> = {};
    for (const label of flags.list('label')) {
      const eq = label.indexOf('=');
      labels[eq < 0 ? label : label.slice(0, eq)] = eq < 0 ? '' : label.slice(eq + 1);
    }

    const secrets: Record<string, Buffer> = {};
    for (const spec of flags.list('secret')) {
      const { id, value } = readSecret(spec, ctx.io.env);
      secrets[id] = value;
    }

    let body: Readable | undefined;
    let remote: string | undefined;
    let dockerfile = file;
    if (source === '-') {
      if (file === '-') throw new StatusError("invalid argument: can't use stdin for both build context and dockerfile", 1);
      body = ctx.io.stdin as Readable;
    } else if (/^(https?:\/\/|git@|git:\/\/|github\.com\/)/.test(source!)) {
      remote = source;
    } else {
      const dir = path.resolve(source!);
      if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
        throw new StatusError(`unable to prepare context: path "${source}" not found`, 1);
      }
      const outside = await dockerfileOutside(dir, file, ctx.io.stdin as Readable);
      if (outside) dockerfile = outside.name;
      else if (file) dockerfile = path.relative(dir, path.resolve(file));
      body = await contextOf(dir, outside);
    }

    const display = new BuildDisplay(ctx.io.stdout, () => ctx.io.now());
    const held: string[] = [];
    let id: string;
    try {
      id = await ctx.client().images.build(body, {
        tags: flags.list('tag'),
        dockerfile,
        buildArgs,
        labels,
        target: flags.string('target'),
        noCache: flags.bool('no-cache'),
        pull: flags.bool('pull'),
        network: flags.string('network'),
        quiet,
        remote,
        secrets,
        // Quiet: the daemon answers only the id, printed below; or, when the build fails,
        // what it said, shown on stderr before the error (as the docker CLI does).
        onProgress: (m) => {
          if (!quiet) display.show(m);
          else if (typeof m.stream === 'string') held.push(m.stream);
        },
      });
    } catch (err) {
      display.end();
      if (held.length > 0) ctx.io.stderr.write(held.join(''));
      const code = (err as ApiError).code;
      if ((err as ApiError).name === 'ApiError' && typeof code === 'number' && code > 0) {
        ctx.io.stderr.write(`${(err as Error).message}\n`);
        return code;
      }
      throw err;
    }
    display.end();
    if (quiet) ctx.io.stdout.write(`${id}\n`);
    const iidfile = flags.string('iidfile');
    if (iidfile) fs.writeFileSync(iidfile, id);
    return 0;
  },
};

/**
 * One `--secret` as BuildKit's CLI takes it: `id=x[,src=<file>]` (`source=`, `type=file`),
 * or `id=x,env=VAR` (`type=env`); a bare `src` names the id by the file. The value is read now.
 */
function readSecret(spec: string, env: Record<string, string | undefined>): { id: string; value: Buffer } {
  const fields = new Map<string, string>();
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new StatusError(`invalid secret ${JSON.stringify(spec)}: ${JSON.stringify(part)} is not key=value`, 1);
    fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1));
  }
  const type = fields.get('type') ?? (fields.has('env') ? 'env' : 'file');
  const src = fields.get('src') ?? fields.get('source');
  const id = fields.get('id') ?? (src ? path.basename(src) : fields.get('env'));
  if (!id) throw new StatusError(`invalid secret ${JSON.stringify(spec)}: no id`, 1);
  if (type === 'env') {
    const name = fields.get('env') ?? src ?? id;
    const value = env[name];
    if (value === undefined) throw new StatusError(`secret ${id}: environment variable ${name} is not set`, 1);
    return { id, value: Buffer.from(value) };
  }
  if (type !== 'file') throw new StatusError(`invalid secret ${JSON.stringify(spec)}: unsupported type ${type}`, 1);
  const file = src ?? id;
  try {
    return { id, value: fs.readFileSync(file) };
  } catch (err) {
    throw new StatusError(`secret ${id}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 1);
  }
}

/** A Dockerfile that is not inside the context (`-f -`, `-f /elsewhere`): its bytes and the name it travels under. */
async function dockerfileOutside(
  dir: string,
  file: string | undefined,
  stdin: Readable,
): Promise<{ name: string; content: Buffer } | undefined> {
  if (file === undefined) return undefined;
  const name = `.dockerfile.${randomBytes(10).toString('hex')}`;
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
    return { name, content: Buffer.concat(chunks) };
  }
  const resolved = path.resolve(file);
  const rel = path.relative(dir, resolved);
  if (!rel.startsWith('..') && !path.isAbsolute(rel)) return undefined;
  try {
    return { name, content: fs.readFileSync(resolved) };
  } catch {
    throw new StatusError(
      `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${resolved}: no such file or directory`,
      1,
    );
  }
}

/** The context directory as a tar stream (owners 0:0), with a Dockerfile from outside added (and listed in `.dockerignore`). */
function contextOf(dir: string, extra: { name: string; content: Buffer } | undefined): Promise<Readable> {
  if (!extra) return contextTar(dir);
  const ignore = fs.existsSync(path.join(dir, '.dockerignore')) ? fs.readFileSync(path.join(dir, '.dockerignore'), 'utf8') : '';
  return contextTar(dir, [
    {
      name: '.dockerignore',
      content: Buffer.from(`${ignore}${ignore === '' || ignore.endsWith('\n') ? '' : '\n'}${extra.name}\n`),
      mode: 0o644,
    },
    { name: extra.name, content: extra.content, mode: 0o600 },
  ]);
}
