import { parseDetachKeys } from '@berth/core/detach-keys';
import { type Command, describeError, forEachName, PROG, printError } from '../command.js';
import { StatusError } from '../errors.js';
import { proxySignals } from '../signals.js';

/**
 * `start` starts each container and prints its name; `start -a` attaches first (attach ∥
 * wait next-exit, then start, like `run`) and exits with the container's status; `-i`
 * copies stdin (a raw terminal, resized, with detach keys, when the container has a tty).
 */
export const startCommand: Command = {
  name: 'start',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Start one or more stopped containers',
  aliases: `${PROG} container start, ${PROG} start`,
  flags: [
    { long: 'attach', short: 'a', kind: 'bool', help: 'Attach STDOUT/STDERR and forward signals' },
    { long: 'interactive', short: 'i', kind: 'bool', help: "Attach container's STDIN" },
    { long: 'detach-keys', kind: 'string', help: 'Override the key sequence for detaching a container' },
  ],
  minArgs: 1,
  async run(ctx, flags, names) {
    const client = ctx.client();
    const attach = flags.bool('attach');
    const interactive = flags.bool('interactive');
    if (!attach && !interactive) {
      const failed = await forEachName(ctx, names, (n) => client.containers.start(n));
      if (failed.length) throw new StatusError(`Error: failed to start containers: ${failed.join(', ')}`, 1);
      return 0;
    }
    if (names.length > 1) throw new StatusError('you cannot start and attach multiple containers at once', 1);
    const term = require('../terminal.js') as typeof import('../terminal.js');
    const detachKeys = flags.string('detach-keys');
    if (detachKeys !== undefined) parseDetachKeys(detachKeys);
    const name = names[0]!;
    const info = await client.containers.inspect(name);
    const id = info.Id;
    const tty = info.Config?.Tty === true;
    if (term.inputNotATerminal(ctx.io, tty, interactive)) throw new StatusError('the input device is not a TTY', 1);
    const [att, wait] = await Promise.all([
      client.containers.attach(id, { stdin: interactive, stdout: attach, stderr: attach, tty, detachKeys }),
      client.containers.waitHandle(id, 'next-exit'),
    ]);
    const stopProxy = tty ? () => {} : proxySignals(ctx, id);
    const session = new term.InteractiveSession(ctx.io, att, {
      tty,
      stdin: interactive,
      detachKeys,
      resize: (h, w) => client.containers.resize(id, h, w),
    });
    try {
      session.begin();
      const output = att.forward(ctx.io.stdout, ctx.io.stderr);
      try {
        await client.containers.start(id);
      } catch (err) {
        att.close();
        throw err;
      }
      session.watchSize();
      try {
        await output;
      } catch (err) {
        printError(ctx, `${PROG}: error reading the container's output: ${describeError(err)}`);
      }
      if (session.wasDetached) return 0;
      const result = await wait.result;
      if (result.Error) throw new StatusError(`error waiting for container: ${result.Error.Message}`, 125);
      return result.StatusCode;
    } finally {
      stopProxy();
      session.end();
      wait.cancel();
    }
  },
};
