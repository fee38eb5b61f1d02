#!/usr/bin/env node
// `berth-volume-loop --root <dir> --socket <path> [--default-size 1G]`: the loop driver out
// of process, over Docker's volume plugin protocol, for a Docker engine (or berthd's
// volume-remote): `--socket /run/docker/plugins/loop.sock` makes it the plugin `loop`.
import { parseArgs } from 'node:util';
import { serve } from '@berth/volume-kit';
import { LoopVolumeDriver } from './loop-volume-driver.js';
import { DEFAULT_SIZE, parseSize } from './size.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { root: { type: 'string' }, socket: { type: 'string' }, 'default-size': { type: 'string' } },
    strict: true,
  });
  if (!values.root || !values.socket) {
    throw new Error('usage: berth-volume-loop --root <dir> --socket <path> [--default-size 1G]');
  }
  const size = values['default-size'] ? parseSize(values['default-size']) : DEFAULT_SIZE;
  const driver = await new LoopVolumeDriver(values.root, size).open();
  const server = await serve(driver, { socket: values.socket });
  process.stdout.write(`berth-volume-loop serving ${values.root} on ${server.socket}\n`);
  // Volumes stay mounted across a stop: the containers using them keep running, and the
  // next start finds their mount IDs in the ledger beside the socket.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void server.close().then(() => process.exit(0)));
}

main().catch((err: Error) => {
  process.stderr.write(`berth-volume-loop: ${err.message}\n`);
  process.exit(1);
});
