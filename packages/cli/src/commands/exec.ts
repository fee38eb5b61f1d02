import type { ExecCreateBody } from '@berth/core';
import { defaultDetachKeys, parseDetachKeys } from '@berth/core/detach-keys';
import { type Command, describeError, PROG, printError } from '../command.js';
import { envEntry } from '../container-options.js';
import { StatusError } from '../errors.js';
import { InteractiveSession, inputNotATerminal, terminalSize } from '../terminal.js';

/**
 * `exec` is docker's sequence: create the exec, then start it detached (`-d`, nothing
 * printed) or attached over a hijacked connection (stdin copied with `-i`, a raw terminal
 * with `-t`, resized at start and on SIGWINCH), copy the output until the daemon closes
 * the stream, and exit with the exec's ExitCode from its inspect.
 */
export const execCommand: Command = {
  name: 'exec',
  usage: '[OPTIONS] CONTAINER COMMAND [ARG...]',
  summary: 'Execute a command in a running container',
  aliases: `${PROG} container exec, ${PROG} exec`,
  flags: [
    { long: 'detach', short: 'd', kind: 'bool', help: 'Detached mode: run command in the background' },
    { long: 'detach-keys', kind: 'string', help: 'Override the key sequence for detaching a container' },
    { long: 'env', short: 'e', kind: 'list', help: 'Set environment variables' },
    { long: 'interactive', short: 'i', kind: 'bool', help: 'Keep STDIN open even if not attached' },
    { long: 'privileged', kind: 'bool', help: 'Give extended privileges to the command' },
    { long: 'tty', short: 't', kind: 'bool', help: 'Allocate a pseudo-TTY' },
    { long: 'user', short: 'u', kind: 'string', help: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
    { long: 'workdir', short: 'w', kind: 'string', help: 'Working directory inside the container' },
  ],
  minArgs: 2,
  interspersed: false,
  async run(ctx, flags, args) {
    const [container, ...cmd] = args as [string, ...string[]];
    const detach = flags.bool('detach');
    const tty = flags.bool('tty');
    const interactive = flags.bool('interactive');
    const detachKeys = flags.string('detach-keys');
    if (detachKeys !== undefined) parseDetachKeys(detachKeys);
    if (!detach && inputNotATerminal(ctx.io, tty, interactive)) throw new StatusError('the input device is not a TTY', 1);
    const size = tty ? terminalSize(ctx.io) : undefined;
    const body: ExecCreateBody = {
      User: flags.string('user') ?? '',
      Privileged: flags.bool('privileged'),
      Tty: tty,
      ConsoleSize: size ? [size.rows, size.columns] : null,
      AttachStdin: interactive && !detach,
      AttachStdout: !detach,
      AttachStderr: !detach,
      DetachKeys: detachKeys ?? '',
      Env: flags.list('env').map((e) => envEntry(e, ctx.io.env)),
      WorkingDir: flags.string('workdir') ?? '',
      Cmd: cmd,
    };
    const client = ctx.client();
    const { Id } = await client.execs.create(container, body);
    if (detach) {
      await client.execs.startDetached(Id, tty);
      return 0;
    }
    const att = await client.execs.start(Id, { tty, stdin: interactive });
    const session = new InteractiveSession(ctx.io, att, {
      tty,
      stdin: interactive,
      detachKeys: detachKeys ?? defaultDetachKeys,
      resize: (h, w) => client.execs.resize(Id, h, w),
    });
    try {
      session.begin();
      session.watchSize();
      try {
        await att.forward(ctx.io.stdout, ctx.io.stderr);
      } catch (err) {
        printError(ctx, `${PROG}: error reading the exec's output: ${describeError(err)}`);
      }
    } finally {
      session.end();
    }
    if (session.wasDetached) return 0;
    const inspect = await client.execs.inspect(Id);
    return inspect.ExitCode ?? 0;
  },
};
