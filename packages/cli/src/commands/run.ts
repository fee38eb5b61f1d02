import type { Attachment, WaitHandle } from '@berth/client';
import { parseDetachKeys } from '@berth/core/detach-keys';
import type { Flags } from '../argv.js';
import { type Command, type CommandContext, describeError, PROG, printError } from '../command.js';
import { buildCreateRequest, CONTAINER_FLAGS, type CreateRequest } from '../container-options.js';
import { proxySignals } from '../signals.js';
import type { InteractiveSession } from '../terminal.js';

/*
 * `run` is docker's sequence (docs/docker-api.md §3.1/§3.2): create → attach ∥ wait, both
 * accepted by the daemon → start → copy the output until the daemon closes the stream →
 * exit with the StatusCode from wait. Establishing attach and wait before start is what
 * keeps a fast container's output and exit from being missed.
 */

const RUN_FLAGS = [
  { long: 'detach', short: 'd', kind: 'bool', help: 'Run container in background and print container ID' },
  { long: 'sig-proxy', kind: 'bool', help: 'Proxy received signals to the process', def: 'true' },
  { long: 'detach-keys', kind: 'string', help: 'Override the key sequence for detaching a container' },
  { long: 'pull', kind: 'string', help: 'Pull image before running ("always", "missing", "never")', def: '"missing"' },
  { long: 'quiet', short: 'q', kind: 'bool', help: 'Suppress the pull output' },
] as const;

/** docker's `reportError`: `berth: <text>.` and, for mistakes in the request, the help hint. */
function report(ctx: CommandContext, command: string, text: string, withHelp: boolean): void {
  // docker ends the sentence with a period; not after a question (`Is berthd running?`).
  let line = `${PROG}: ${/[?!]$/.test(text) ? text : `${text.replace(/\.$/, '')}.`}`;
  if (withHelp) line += `\nSee '${PROG} ${command} --help'.`;
  printError(ctx, line);
}

/** docker's exit status for a failed create/start: 127 not found, 126 not executable, else 125. */
export function startErrorStatus(err: unknown): number {
  const text = describeError(err).replace(/^Error response from daemon: /, '');
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(text)) return 127;
  if (/permission denied|is a directory/.test(text)) return 126;
  return 125;
}

/** `busybox` → `busybox:latest`, as `Unable to find image '…' locally` names it. */
export function imageWithTag(image: string): string {
  let ref = image.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
  if (ref.includes('@')) return ref;
  const lastSlash = ref.lastIndexOf('/');
  if (!ref.slice(lastSlash + 1).includes(':')) ref += ':latest';
  return ref;
}

function request(ctx: CommandContext, command: string, flags: Flags, args: string[], detach: boolean): CreateRequest | number {
  try {
    const fs = require('node:fs') as typeof import('node:fs');
    return buildCreateRequest(flags, args[0]!, args.slice(1), {
      detach,
      env: ctx.io.env,
      readFile: (p) => fs.readFileSync(p, 'utf8'),
      cwd: process.cwd(),
    });
  } catch (err) {
    report(ctx, command, (err as Error).message, true);
    return 125;
  }
}

/**
 * POST /containers/create; on failure reports docker's way and returns the exit status.
 * `pull`: `always` pulls first; `missing` (the default) pulls when the create answers 404
 * (after docker's `Unable to find image 'x:latest' locally`) and creates again; `never`
 * reports the 404. Pull progress goes to stderr, as docker's does (none with `quiet`).
 */
async function create(
  ctx: CommandContext,
  command: string,
  req: CreateRequest,
  pull = 'missing',
  quiet = false,
  platform?: string,
): Promise<string | number> {
  const image = req.body.Image ?? '';
  const pullNow = async (): Promise<number | undefined> => {
    try {
      const registry = require('./registry.js') as typeof import('./registry.js');
      await registry.pullImage(ctx, image, { quiet, out: 'stderr', platform });
      return undefined;
    } catch (err) {
      report(ctx, command, describeError(err), true);
      return 125;
    }
  };
  if (pull === 'always') {
    const failed = await pullNow();
    if (failed !== undefined) return failed;
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const created = await ctx.client().containers.create(req.body, req.name);
      for (const w of created.Warnings ?? []) printError(ctx, `WARNING: ${w}`);
      return created.Id;
    } catch (err) {
      const missing = (err as { name?: string; status?: number }).name === 'ApiError' && (err as { status: number }).status === 404;
      if (attempt === 0 && pull === 'missing' && missing && /No such image/i.test(describeError(err))) {
        printError(ctx, `Unable to find image '${imageWithTag(image)}' locally`);
        const failed = await pullNow();
        if (failed !== undefined) return failed;
        continue;
      }
      report(ctx, command, describeError(err), true);
      return startErrorStatus(err);
    }
  }
}

async function runContainer(ctx: CommandContext, flags: Flags, args: string[]): Promise<number> {
  const detach = flags.bool('detach');
  const pull = flags.string('pull') ?? 'missing';
  if (!['missing', 'never', 'always'].includes(pull)) {
    report(ctx, 'run', `invalid pull option: '${pull}': must be one of "always", "missing" or "never"`, true);
    return 125;
  }
  const req = request(ctx, 'run', flags, args, detach);
  if (typeof req === 'number') return req;
  const tty = req.body.Tty === true;
  // Only interactive runs load the terminal code (start-up time: bench/run-true.sh).
  const term = !detach && (tty || req.body.AttachStdin) ? (require('../terminal.js') as typeof import('../terminal.js')) : undefined;
  if (term) {
    if (term.inputNotATerminal(ctx.io, tty, req.body.AttachStdin === true)) {
      printError(ctx, `${PROG}: the input device is not a TTY`);
      return 1;
    }
    try {
      if (flags.has('detach-keys')) parseDetachKeys(flags.string('detach-keys')!);
    } catch (err) {
      report(ctx, 'run', (err as Error).message, false);
      return 125;
    }
    const size = tty ? term.terminalSize(ctx.io) : undefined;
    if (size) req.body.HostConfig = { ...req.body.HostConfig, ConsoleSize: [size.rows, size.columns] };
  }
  const created = await create(ctx, 'run', req, pull, flags.bool('quiet'), flags.string('platform'));
  if (typeof created === 'number') return created;
  const id = created;
  const client = ctx.client();
  const body = req.body;
  const attach = !detach && (body.AttachStdin || body.AttachStdout || body.AttachStderr) === true;
  // With a tty, Ctrl-C is a byte for the container's terminal, not a signal to forward (docker's rule).
  const stopProxy = flags.bool('sig-proxy', true) && !tty ? proxySignals(ctx, id) : () => {};
  let att: Attachment | undefined;
  let wait: WaitHandle | undefined;
  let session: InteractiveSession | undefined;
  try {
    try {
      const [a, w] = await Promise.all([
        attach
          ? client.containers.attach(id, {
              stdin: body.AttachStdin,
              stdout: body.AttachStdout,
              stderr: body.AttachStderr,
              tty,
              detachKeys: flags.string('detach-keys'),
            })
          : undefined,
        client.containers.waitHandle(id, body.HostConfig?.AutoRemove ? 'removed' : 'next-exit'),
      ]);
      att = a;
      wait = w;
    } catch (err) {
      report(ctx, 'run', describeError(err), false);
      return 125;
    }
    // Start first: the output waits in the attach connection until forwarded, and what
    // is set up meanwhile (the process's stdout and stderr, stdin) costs no latency
    // while the daemon starts the container.
    const starting = client.containers.start(id);
    starting.catch(() => {}); // awaited below
    if (att && term) {
      session = new term.InteractiveSession(ctx.io, att, {
        tty,
        stdin: body.AttachStdin === true,
        detachKeys: flags.string('detach-keys'),
        resize: (h, w) => client.containers.resize(id, h, w),
      });
      session.begin();
    }
    const output = att?.forward(ctx.io.stdout, ctx.io.stderr);
    try {
      await starting;
    } catch (err) {
      att?.close();
      report(ctx, 'run', describeError(err), false);
      // Like docker, let an --rm container be removed before returning (bounded: the daemon may not).
      if (body.HostConfig?.AutoRemove) await Promise.race([wait.result.catch(() => {}), sleep(3000)]);
      return startErrorStatus(err);
    }
    if (detach) {
      ctx.io.stdout.write(`${id}\n`);
      return 0;
    }
    session?.watchSize();
    if (output) {
      try {
        await output;
      } catch (err) {
        printError(ctx, `${PROG}: error reading the container's output: ${describeError(err)}`);
      }
    }
    // The detach keys (which close the attachment) leave the container running: docker exits 0 without waiting.
    if (session?.wasDetached) return 0;
    let result: Awaited<WaitHandle['result']>;
    try {
      result = await wait.result;
    } catch (err) {
      printError(ctx, `${PROG}: error waiting for container: ${describeError(err)}`);
      return 125;
    }
    if (result.Error) {
      printError(ctx, `${PROG}: error waiting for container: ${result.Error.Message}`);
      return 125;
    }
    return result.StatusCode;
  } finally {
    stopProxy();
    session?.end();
    wait?.cancel();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Flags in name order for `--help`. Plain comparison: `localeCompare` would load ICU, ~10 ms at start-up. */
function byName(a: { long: string }, b: { long: string }): number {
  return a.long < b.long ? -1 : a.long > b.long ? 1 : 0;
}

export const runCommand: Command = {
  name: 'run',
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create and run a new container from an image',
  aliases: `${PROG} container run, ${PROG} run`,
  flags: [...RUN_FLAGS, ...CONTAINER_FLAGS].sort(byName),
  minArgs: 1,
  interspersed: false,
  run: runContainer,
};

export const createCommand: Command = {
  name: 'create',
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create a new container',
  aliases: `${PROG} container create, ${PROG} create`,
  flags: [...CONTAINER_FLAGS, RUN_FLAGS[3], RUN_FLAGS[4]].sort(byName),
  minArgs: 1,
  interspersed: false,
  async run(ctx, flags, args) {
    const req = request(ctx, 'create', flags, args, false);
    if (typeof req === 'number') return req;
    const created = await create(ctx, 'create', req, flags.string('pull'), flags.bool('quiet'), flags.string('platform'));
    if (typeof created === 'number') return created;
    ctx.io.stdout.write(`${created}\n`);
    return 0;
  },
};
