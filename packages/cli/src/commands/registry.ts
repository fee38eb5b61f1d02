import type { JsonMessage } from '@berth/client';
import { type Command, type CommandContext, PROG, printError } from '../command.js';
import { StatusError } from '../errors.js';
import {
  CredentialStore,
  credentialServerFor,
  normalizeServerAddress,
  registryAuthHeader,
  type StoredCredentials,
} from '../registry/credential-store.js';
import { ProgressDisplay } from '../registry/progress-display.js';

/** The X-Registry-Auth value for the registry of `image`, from the stored credentials (none: undefined). */
export function storedRegistryAuth(ctx: CommandContext, image: string): string | undefined {
  return registryAuthHeader(new CredentialStore(ctx.io.env).get(credentialServerFor(image)));
}

/**
 * `pull` as `run` and `create` need it too: progress to `out` (bars on a terminal, plain
 * lines otherwise, nothing with `quiet`), stored credentials sent along.
 */
export async function pullImage(
  ctx: CommandContext,
  image: string,
  options: { platform?: string; quiet?: boolean; out?: 'stdout' | 'stderr' } = {},
): Promise<void> {
  const display = new ProgressDisplay(options.out === 'stderr' ? ctx.io.stderr : ctx.io.stdout);
  await ctx.client().images.pull(image, {
    platform: options.platform,
    auth: storedRegistryAuth(ctx, image),
    onProgress: (m: JsonMessage) => {
      if (!options.quiet) display.show(m);
    },
  });
}

/** `docker.io/library/busybox:latest` as the last line of a pull prints it. */
function fullReference(image: string): string {
  const first = image.split('/')[0]!;
  let ref =
    image.includes('/') && (/[.:]/.test(first) || first === 'localhost')
      ? image
      : `docker.io/${image.includes('/') ? image : `library/${image}`}`;
  if (!ref.includes('@') && !ref.slice(ref.lastIndexOf('/') + 1).includes(':')) ref += ':latest';
  return ref;
}

export const pullCommand: Command = {
  name: 'pull',
  usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
  summary: 'Download an image from a registry',
  aliases: `${PROG} image pull, ${PROG} pull`,
  flags: [
    { long: 'all-tags', short: 'a', kind: 'bool', help: 'Download all tagged images in the repository' },
    { long: 'platform', kind: 'string', help: 'Set platform if server is multi-platform capable' },
    { long: 'quiet', short: 'q', kind: 'bool', help: 'Suppress verbose output' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, [image]) {
    const quiet = flags.bool('quiet');
    const allTags = flags.bool('all-tags');
    const display = new ProgressDisplay(ctx.io.stdout);
    const lastPart = image!.slice(image!.lastIndexOf('/') + 1);
    if (!allTags && !quiet && !image!.includes('@') && !lastPart.includes(':')) ctx.io.stdout.write('Using default tag: latest\n');
    await ctx.client().images.pull(image!, {
      platform: flags.string('platform'),
      allTags,
      auth: storedRegistryAuth(ctx, image!),
      onProgress: (m) => {
        if (!quiet) display.show(m);
      },
    });
    if (!allTags) ctx.io.stdout.write(`${fullReference(image!)}\n`);
    return 0;
  },
};

export const pushCommand: Command = {
  name: 'push',
  usage: '[OPTIONS] NAME[:TAG]',
  summary: 'Upload an image to a registry',
  aliases: `${PROG} image push, ${PROG} push`,
  flags: [
    { long: 'all-tags', short: 'a', kind: 'bool', help: 'Push all tags of an image to the repository' },
    { long: 'quiet', short: 'q', kind: 'bool', help: 'Suppress verbose output' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, [image]) {
    const quiet = flags.bool('quiet');
    const display = new ProgressDisplay(ctx.io.stdout);
    const lastPart = image!.slice(image!.lastIndexOf('/') + 1);
    if (flags.bool('all-tags') && lastPart.includes(':')) throw new StatusError("tag can't be used with --all-tags/-a", 1);
    // Like docker: a name without a tag pushes `latest`, unless -a asks for every tag.
    const target = flags.bool('all-tags') || lastPart.includes(':') ? image! : `${image!}:latest`;
    if (target !== image && !quiet) ctx.io.stdout.write('Using default tag: latest\n');
    await ctx.client().images.push(target, {
      auth: storedRegistryAuth(ctx, image!),
      onProgress: (m) => {
        if (!quiet) display.show(m);
      },
    });
    if (quiet) ctx.io.stdout.write(`${fullReference(target)}\n`);
    return 0;
  },
};

/** Everything on stdin, without the final line break (`--password-stdin`). */
async function readAllStdin(ctx: CommandContext): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.io.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** One line typed at the terminal; with `hidden`, not echoed (a password). */
async function prompt(ctx: CommandContext, question: string, hidden: boolean): Promise<string> {
  const readline = require('node:readline') as typeof import('node:readline');
  ctx.io.stdout.write(question);
  const muted = new (require('node:stream') as typeof import('node:stream')).Writable({
    write(chunk, _enc, done) {
      if (!hidden) ctx.io.stdout.write(chunk);
      done();
    },
  });
  const rl = readline.createInterface({ input: ctx.io.stdin, output: muted, terminal: ctx.io.stdin.isTTY === true });
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve));
  } finally {
    rl.close();
    if (hidden) ctx.io.stdout.write('\n');
  }
}

export const loginCommand: Command = {
  name: 'login',
  usage: '[OPTIONS] [SERVER]',
  summary: 'Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.',
  aliases: `${PROG} login`,
  flags: [
    { long: 'password', short: 'p', kind: 'string', help: 'Password' },
    { long: 'password-stdin', kind: 'bool', help: 'Take the password from stdin' },
    { long: 'username', short: 'u', kind: 'string', help: 'Username' },
  ],
  maxArgs: 1,
  async run(ctx, flags, [serverArg]) {
    const server = normalizeServerAddress(serverArg);
    const store = new CredentialStore(ctx.io.env);
    let username = flags.string('username');
    let password = flags.string('password');
    if (password !== undefined) printError(ctx, 'WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
    if (flags.bool('password-stdin')) {
      if (password !== undefined) throw new StatusError('--password and --password-stdin are mutually exclusive', 1);
      if (username === undefined) throw new StatusError('Must provide --username with --password-stdin', 1);
      password = await readAllStdin(ctx);
    }
    let creds: StoredCredentials | undefined;
    if (username === undefined && password === undefined) {
      // Docker tries what is stored first.
      creds = store.get(server);
    }
    if (!creds) {
      const interactive = ctx.io.stdin.isTTY === true;
      if (username === undefined) {
        if (!interactive) throw new StatusError('Error: Cannot perform an interactive login from a non TTY device', 1);
        username = (await prompt(ctx, 'Username: ', false)).trim();
      }
      if (password === undefined) {
        if (!interactive) throw new StatusError('Error: Cannot perform an interactive login from a non TTY device', 1);
        password = await prompt(ctx, 'Password: ', true);
      }
      if (!username) throw new StatusError('Error: Non-null Username Required', 1);
      if (!password) throw new StatusError('Error: Password Required', 1);
      creds = { username, password, serveraddress: server };
    }
    const answer = await ctx.client().login({ username: creds.username, password: creds.password, serveraddress: server });
    const stored: StoredCredentials = { ...creds, serveraddress: server };
    if (answer.IdentityToken) stored.identitytoken = answer.IdentityToken;
    store.store(stored);
    ctx.io.stdout.write(`${answer.Status || 'Login Succeeded'}\n`);
    return 0;
  },
};

export const logoutCommand: Command = {
  name: 'logout',
  usage: '[SERVER]',
  summary: 'Log out from a registry.\nIf no server is specified, the default is defined by the daemon.',
  aliases: `${PROG} logout`,
  flags: [],
  maxArgs: 1,
  async run(ctx, _flags, [serverArg]) {
    const server = normalizeServerAddress(serverArg);
    const store = new CredentialStore(ctx.io.env);
    if (!store.erase(server)) {
      ctx.io.stdout.write(`Not logged in to ${server}\n`);
      return 0;
    }
    ctx.io.stdout.write(`Removing login credentials for ${server}\n`);
    return 0;
  },
};
