// The conformance suite through serve(): the same driver, out of process over Docker's
// volume plugin protocol, reached by a test-only client of the protocol. A "new driver
// over the same state" is the serving process restarted: the server closed, and served
// again over the same ledger.
import * as path from 'node:path';
import { volumeDriverSuite } from '../src/conformance/index.js';
import { type ServeOptions, serve, type VolumeServer } from '../src/index.js';
import { DirectoryDriver } from './fixtures/directory-driver.js';
import { ProtocolClient } from './fixtures/protocol-client.js';

const servers = new Map<string, VolumeServer>();

async function served(state: string): Promise<ProtocolClient> {
  const dir = path.dirname(state);
  await servers.get(dir)?.close();
  const options: ServeOptions = { socket: path.join(dir, 'dir.sock'), stateFile: path.join(dir, 'mounts.json') };
  servers.set(dir, await serve(new DirectoryDriver(state), options));
  return new ProtocolClient(options.socket);
}

volumeDriverSuite('dir (over serve)', served, {
  tempPrefix: '/tmp/berth-unit-volume-kit-',
  // serve() refuses removal while a mount ID holds the volume, whatever the driver does.
  refusesRemoveWhileMounted: true,
  release: async (dir) => {
    await servers.get(dir)?.close();
    servers.delete(dir);
  },
});
