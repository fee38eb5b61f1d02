import { parseDetachKeys } from '@berth/core/detach-keys';
import { type Command, describeError, PROG, printError } from '../command.js';
import { StatusError } from '../errors.js';
import { proxySignals } from '../signals.js';
import { InteractiveSession } from '../terminal.js';

/**
 * `attach`: the running container's stdio on this terminal (raw, resized, with a tty),
 * until it exits (the exit status is its own, from a wait sent before attaching) or the
 * detach keys are typed (`read escape sequence`, the container keeps running).
 */
export const attachCommand: Command = {
  name: 'attach',
  usage: '[OPTIONS] CONTAINER',
  summary: 'Attach local standard input, output, and error streams to a running container',
  aliases: `${PROG} container attach, ${PROG} attach`,
  flags: [
    { long: 'detach-keys', kind: 'string', help: 'Override the key sequence for detaching a container' },
    { long: 'no-stdin', kind: 'bool', help: 'Do not attach STDIN' },
    { long: 'sig-proxy', kind: 'bool', help: 'Proxy all received signals to the process', def: 'true' },
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, args) {
    const client = ctx.client();
    const detachKeys = flags.string('detach-keys');
    if (detachKeys !== undefined) parseDetachKeys(detachKeys);
    const info = await client.containers.inspect(args[0]!);
    if (!info.State?.Running) throw new StatusError('You cannot attach to a stopped container, start it first', 1);
    if (info.State?.Paused) throw new StatusError('You cannot attach to a paused container, unpause it first', 1);
    const id = info.Id;
    const tty = info.Config?.Tty === true;
    const stdin = !flags.bool('no-stdin') && info.Config?.OpenStdin === true;
    if (tty && stdin && ctx.io.stdin.isTTY !== true) throw new StatusError('the input device is not a TTY', 1);
    const wait = await client.containers.waitHandle(id, 'not-running');
    const att = await client.containers.attach(id, { stdin, stdout: true, stderr: true, tty, detachKeys });
    const stopProxy = flags.bool('sig-proxy', true) && !tty ? proxySignals(ctx, id) : () => {};
    const session = new InteractiveSession(ctx.io, att, { tty, stdin, detachKeys, resize: (h, w) => client.containers.resize(id, h, w) });
    try {
      session.begin();
      session.watchSize();
      try {
        await att.forward(ctx.io.stdout, ctx.io.stderr);
      } catch (err) {
        printError(ctx, `${PROG}: error reading the container's output: ${describeError(err)}`);
      }
      if (session.wasDetached) throw new StatusError('read escape sequence', 1);
      const result = await wait.result;
      if (result.Error) throw new StatusError(`error waiting for container: ${result.Error.Message}`, 125);
      return result.StatusCode;
    } finally {
      session.end();
      stopProxy();
      wait.cancel();
    }
  },
};
