import { type Command, forEachName, PROG } from '../command.js';
import { StatusError } from '../errors.js';

/** Exit status 1 when any name failed (the errors were already printed). */
function status(failed: string[]): number {
  if (failed.length) throw new StatusError('', 1);
  return 0;
}

export const stopCommand: Command = {
  name: 'stop',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Stop one or more running containers',
  aliases: `${PROG} container stop, ${PROG} stop`,
  flags: [
    { long: 'signal', short: 's', kind: 'string', help: 'Signal to send to the container' },
    { long: 'time', short: 't', kind: 'int', help: 'Seconds to wait before killing the container' },
  ],
  minArgs: 1,
  async run(ctx, flags, names) {
    const client = ctx.client();
    return status(await forEachName(ctx, names, (n) => client.containers.stop(n, flags.int('time'), flags.string('signal'))));
  },
};

export const killCommand: Command = {
  name: 'kill',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Kill one or more running containers',
  aliases: `${PROG} container kill, ${PROG} kill`,
  flags: [{ long: 'signal', short: 's', kind: 'string', help: 'Signal to send to the container' }],
  minArgs: 1,
  async run(ctx, flags, names) {
    const client = ctx.client();
    return status(await forEachName(ctx, names, (n) => client.containers.kill(n, flags.string('signal') || undefined)));
  },
};

export const rmCommand: Command = {
  name: 'rm',
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Remove one or more containers',
  aliases: `${PROG} container rm, ${PROG} container remove, ${PROG} rm`,
  flags: [
    { long: 'force', short: 'f', kind: 'bool', help: 'Force the removal of a running container (uses SIGKILL)' },
    { long: 'link', short: 'l', kind: 'bool', help: 'Remove the specified link', hidden: true },
    { long: 'volumes', short: 'v', kind: 'bool', help: 'Remove anonymous volumes associated with the container' },
  ],
  minArgs: 1,
  async run(ctx, flags, names) {
    const client = ctx.client();
    const force = flags.bool('force');
    const failed = await forEachName(
      ctx,
      names,
      async (n) => {
        try {
          await client.containers.remove(n, { force, v: flags.bool('volumes') });
          return true;
        } catch (err) {
          // Like docker, `rm -f` of a container that does not exist is not an error.
          if (force && (err as { status?: number }).status === 404) return false;
          throw err;
        }
      },
      (n, removed) => {
        if (removed) ctx.io.stdout.write(`${n}\n`);
      },
    );
    return status(failed);
  },
};

export const waitCommand: Command = {
  name: 'wait',
  usage: 'CONTAINER [CONTAINER...]',
  summary: 'Block until one or more containers stop, then print their exit codes',
  aliases: `${PROG} container wait, ${PROG} wait`,
  flags: [],
  minArgs: 1,
  async run(ctx, _flags, names) {
    const client = ctx.client();
    const failed = await forEachName(
      ctx,
      names,
      async (n) => {
        const r = await client.containers.wait(n);
        if (r.Error) throw new Error(r.Error.Message);
        return r.StatusCode;
      },
      (_n, code) => ctx.io.stdout.write(`${code}\n`),
    );
    return status(failed);
  },
};
