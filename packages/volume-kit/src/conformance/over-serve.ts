import * as path from 'node:path';
import type { VolumeDriver } from '@berth/core';
import { serve, type VolumeServer } from '../serve.js';
import { ProtocolClient } from './protocol-client.js';
import type { VolumeDriverFactory } from './volume-case.js';

/** What `overServe` gives `volumeDriverSuite`: the factory and the release to pass it. */
export interface ServedFactory {
  readonly makeDriver: VolumeDriverFactory;
  readonly release: (dir: string) => Promise<void>;
}

/**
 * Runs the suite through `serve()`: each driver `makeDriver` makes is served on
 * `<case dir>/plugin.sock` (its mount ledger beside it) and the suite talks to it with a
 * `ProtocolClient`, as Docker would. "A new driver over the same state" is then the
 * serving process restarted: the server closed, a new driver served over the same state
 * and ledger. `release` closes the case's server, then calls `then` (the driver's own
 * release, e.g. its loop devices):
 *
 * ```ts
 * const served = overServe((dir) => MyDriver.open(dir));
 * volumeDriverSuite('mine over serve', served.makeDriver, { release: served.release });
 * ```
 */
export function overServe(makeDriver: (dir: string) => Promise<VolumeDriver>, then?: (dir: string) => Promise<void>): ServedFactory {
  const servers = new Map<string, VolumeServer>();
  return {
    async makeDriver(state) {
      const dir = path.dirname(state);
      await servers.get(dir)?.close();
      const socket = path.join(dir, 'plugin.sock');
      servers.set(dir, await serve(await makeDriver(state), { socket, stateFile: path.join(dir, 'plugin.mounts.json') }));
      return new ProtocolClient(socket);
    },
    async release(dir) {
      await servers.get(dir)?.close();
      servers.delete(dir);
      await then?.(dir);
    },
  };
}
