import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Command, PROG } from '../command.js';
import { messageLine } from './image-io.js';

/**
 * The `X-Registry-Auth` value for the registry of `image`, from Docker's client config
 * (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, `auths.<server>.auth` =
 * base64 `user:password`); undefined when there are no stored credentials.
 */
export function storedRegistryAuth(image: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const first = image.split('/')[0]!;
  const server = image.includes('/') && (/[.:]/.test(first) || first === 'localhost') ? first : 'https://index.docker.io/v1/';
  const dir = env.DOCKER_CONFIG ?? path.join(os.homedir(), '.docker');
  let config: { auths?: Record<string, { auth?: string }> };
  try {
    config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  } catch {
    return undefined;
  }
  const entry = config.auths?.[server];
  if (!entry?.auth) return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const auth = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress: server };
  return Buffer.from(JSON.stringify(auth)).toString('base64url');
}

export const pullCommand: Command = {
  name: 'pull',
  usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
  summary: 'Download an image from a registry',
  aliases: `${PROG} image pull, ${PROG} pull`,
  flags: [{ long: 'platform', kind: 'string', help: 'Set platform if server is multi-platform capable' }],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, flags, [image]) {
    await ctx.client().images.pull(image!, {
      platform: flags.string('platform'),
      auth: storedRegistryAuth(image!),
      onProgress: (m) => ctx.io.stdout.write(messageLine(m)),
    });
    return 0;
  },
};

export const pushCommand: Command = {
  name: 'push',
  usage: '[OPTIONS] NAME[:TAG]',
  summary: 'Upload an image to a registry',
  aliases: `${PROG} image push, ${PROG} push`,
  flags: [],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, _flags, [image]) {
    await ctx.client().images.push(image!, {
      auth: storedRegistryAuth(image!),
      onProgress: (m) => ctx.io.stdout.write(messageLine(m)),
    });
    return 0;
  },
};
