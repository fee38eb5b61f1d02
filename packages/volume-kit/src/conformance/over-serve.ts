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

/** Options of `overServe`. */
export interface OverServeOptions {
  /**
   * The client the suite talks to the socket with; default the kit's `ProtocolClient`.
   * Give another client of Docker's protocol (berth's volume-remote adapter) to check it
   * against `serve()`, and so both ends at once.
   */
  client?: (socket: string) => VolumeDriver | Promise<VolumeDriver>;
  /** After the case's server is closed: the driver's own release (its loop devices). */
  release?: (dir: string) => Promise<void>;
}

/**
 * Runs the suite through `serve()`: each driver `makeDriver` makes is served on
 * `<case dir>/plugin.sock` (its mount ledger beside it) and the suite talks to it through
 * `client(socket)`, as Docker would. "A new driver over the same state" is then the
 * serving process restarted: the server closed, a new driver served over the same state
 * and ledger. `release` closes the case's server, then calls `options.release`:
 *
 * ```ts
 * const served = overServe((dir) => MyDriver.open(dir));
 * volumeDriverSuite('mine over serve', served.makeDriver, { release: served.release });
 * ```
 */
export function overServe(makeDriver: (dir: string) => Promise<VolumeDriver>, options: OverServeOptions = {}): ServedFactory {
  const servers = new Map<string, VolumeServer>();
  const client = options.client ?? ((socket: string) => new ProtocolClient(socket));
  return {
    async makeDriver(state) {
      const dir = path.dirname(state);
      await servers.get(dir)?.close();
      const socket = path.join(dir, 'plugin.sock');
      servers.set(dir, await serve(await makeDriver(state), { socket, stateFile: path.join(dir, 'plugin.mounts.json') }));
      return client(socket);
    },
    async release(dir) {
      await servers.get(dir)?.close();
      servers.delete(dir);
      await options.release?.(dir);
    },
  };
}
