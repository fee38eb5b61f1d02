import { existsSync, promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { Conflict, InvalidArgument, isBerthError, type Logger, silentLogger, type VolumeDriver } from '@berth/core';
import { mountIdOf, nameOf, optsOf, PLUGIN_CONTENT_TYPE, wireMessage, wireVolume } from './docker-protocol.js';
import { KeyedLock } from './keyed-lock.js';
import { MountLedger } from './mount-ledger.js';

/** Where and how `serve()` listens. */
export interface ServeOptions {
  /**
   * The UNIX socket to listen on. Docker finds a plugin named `<name>` at
   * `/run/docker/plugins/<name>.sock` (berth also at `/run/berth/plugins/<name>.sock`).
   * A leftover socket file nobody accepts on is replaced; one that answers is refused.
   */
  readonly socket: string;
  /**
   * The file holding Docker's mount IDs per volume (MountLedger), default `<socket>.mounts.json`
   * beside the socket: under /run, it goes with a reboot, as the mounts themselves do.
   */
  readonly stateFile?: string;
  /** Where failures of the start-up re-mount and of requests are logged; silent by default. */
  readonly log?: Logger;
  /** The socket file's mode, default 0660. */
  readonly mode?: number;
}

/** A running `serve()`: its socket, and `close()`, which stops listening (volumes stay mounted). */
export interface VolumeServer {
  readonly socket: string;
  close(): Promise<void>;
}

/** The largest request body accepted: a Create's options are small. */
const MAX_BODY = 1 << 20;

/**
 * Serves `driver` over Docker's volume plugin protocol on a UNIX socket, so a Docker
 * engine (or berth's `volume-remote`) uses it as an out-of-process volume plugin: the
 * very object berthd would load in-process, unchanged.
 *
 * What it adds between the wire and the driver:
 * - **Mount counting.** Docker calls `Mount`/`Unmount` once per container with an `ID`;
 *   the driver's `mount` runs for the first ID only and its `unmount` after the last,
 *   as in-process, with the IDs in a file (`stateFile`) written before each answer, so a
 *   restart of this process keeps the count. At start every volume the file says is in
 *   use is mounted again (the contract's "mount after a lost mount"; a volume that no
 *   longer exists is forgotten, another failure logged and retried at the next Mount).
 * - **Refusals.** `Remove` of a volume with mount IDs is a Conflict naming how many.
 * - **Serialisation.** Calls for one name run one at a time (Docker sends them
 *   concurrently), so the driver never sees a mount race an unmount of the same volume.
 * - **Errors** as `{"Err": message}` with status 500, the message saying its kind in words
 *   (`wireMessage`: Docker's protocol has no codes); an unknown endpoint is 404.
 *
 * Lifecycle: resolves once listening (after loading the ledger and the re-mounts); `close()`
 * stops accepting, waits for calls in flight, and leaves volumes mounted (a restart
 * picks them up from the ledger).
 */
export async function serve(driver: VolumeDriver, options: ServeOptions): Promise<VolumeServer> {
  const socket = path.resolve(options.socket);
  const log = options.log ?? silentLogger;
  const ledger = new MountLedger(options.stateFile ?? `${socket}.mounts.json`);
  await ledger.load();
  const locks = new KeyedLock();
  /** Volumes whose driver `mount` succeeded in this process: the others are mounted again at their next Mount. */
  const mountedHere = new Set<string>();

  const remount = async (name: string): Promise<string> => {
    const entry = ledger.get(name)!;
    const mountpoint = await driver.mount(name, { containerId: entry.ids[0]!, readOnly: false });
    mountedHere.add(name);
    if (mountpoint !== entry.mountpoint) {
      for (const id of entry.ids) ledger.add(name, id, mountpoint);
      await ledger.save();
    }
    return mountpoint;
  };

  for (const name of ledger.names()) {
    await locks.run(name, async () => {
      try {
        await remount(name);
      } catch (err) {
        if (isBerthError(err, 'NotFound')) {
          ledger.drop(name);
          await ledger.save();
        } else log.warn('could not mount again a volume in use before a restart', { volume: name, error: (err as Error).message });
      }
    });
  }

  const handlers: Record<string, (body: Record<string, unknown>) => Promise<unknown>> = {
    'Plugin.Activate': async () => ({ Implements: ['VolumeDriver'] }),
    'VolumeDriver.Capabilities': async () => ({ Capabilities: { Scope: driver.scope } }),
    'VolumeDriver.Create': async (body) => {
      const name = nameOf(body);
      const opts = optsOf(body);
      await locks.run(name, () => driver.create(name, opts));
      return { Err: '' };
    },
    'VolumeDriver.Remove': async (body) => {
      const name = nameOf(body);
      await locks.run(name, async () => {
        const users = ledger.get(name)?.ids.length ?? 0;
        if (users > 0) throw new Conflict(`remove ${name}: volume is in use (mounted for ${users} container(s))`);
        await driver.remove(name);
      });
      return { Err: '' };
    },
    'VolumeDriver.Mount': async (body) => {
      const name = nameOf(body);
      const id = mountIdOf(body);
      const mountpoint = await locks.run(name, async () => {
        const entry = ledger.get(name);
        if (entry && mountedHere.has(name)) {
          if (ledger.add(name, id, entry.mountpoint)) await ledger.save();
          return entry.mountpoint;
        }
        if (entry) {
          // Recorded in use, but not mounted by this process yet (a restart whose re-mount failed): again, then count.
          const where = await remount(name);
          if (ledger.add(name, id, where)) await ledger.save();
          return where;
        }
        const where = await driver.mount(name, { containerId: id, readOnly: false });
        mountedHere.add(name);
        ledger.add(name, id, where);
        try {
          await ledger.save();
        } catch (err) {
          // Unrecorded, the mount would never be undone: undo it now, and fail the call.
          ledger.delete(name, id);
          mountedHere.delete(name);
          await driver.unmount(name, { containerId: id, readOnly: false }).catch(() => {});
          throw err;
        }
        return where;
      });
      return { Mountpoint: mountpoint, Err: '' };
    },
    'VolumeDriver.Unmount': async (body) => {
      const name = nameOf(body);
      const id = mountIdOf(body);
      await locks.run(name, async () => {
        const entry = ledger.get(name);
        // Not a user we recorded: nothing of ours to undo (Docker repeats an Unmount after its
        // own crash), but an unknown volume is still NotFound, as the driver says.
        if (!entry?.ids.includes(id)) {
          await driver.get(name);
          return;
        }
        if (entry.ids.length === 1) {
          // Whatever the outcome, the next Mount asks the driver again (its mount is
          // idempotent): after a failed unmount nobody knows what is still mounted.
          mountedHere.delete(name);
          await driver.unmount(name, { containerId: id, readOnly: false });
        }
        ledger.delete(name, id);
        await ledger.save();
      });
      return { Err: '' };
    },
    'VolumeDriver.Path': async (body) => {
      const name = nameOf(body);
      const entry = ledger.get(name);
      if (entry) return { Mountpoint: entry.mountpoint, Err: '' };
      const v = await driver.get(name);
      return { Mountpoint: v.mountpoint ?? '', Err: '' };
    },
    'VolumeDriver.Get': async (body) => {
      const name = nameOf(body);
      const v = await driver.get(name);
      return { Volume: wireVolume(v, ledger.get(name)?.mountpoint), Err: '' };
    },
    'VolumeDriver.List': async () => {
      const volumes = await driver.list();
      return { Volumes: volumes.map((v) => wireVolume(v, ledger.get(v.name)?.mountpoint)), Err: '' };
    },
  };

  const inFlight = new Set<Promise<void>>();
  const server = http.createServer((req, res) => {
    const done = answer(req, res).finally(() => inFlight.delete(done));
    inFlight.add(done);
  });

  async function answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const endpoint = (req.url ?? '/').split('?')[0]!.replace(/^\/+/, '');
    const handler = Object.hasOwn(handlers, endpoint) ? handlers[endpoint] : undefined;
    try {
      if (!handler) return send(res, 404, { Err: `unknown endpoint /${endpoint}` });
      if (req.method !== 'POST') return send(res, 405, { Err: `/${endpoint} takes POST, not ${req.method}` });
      const body = await readBody(req);
      send(res, 200, await handler(body));
    } catch (err) {
      if (!isBerthError(err)) log.error('volume driver call failed', { endpoint, error: (err as Error).message });
      send(res, 500, { Err: wireMessage(err) });
    }
  }

  await claimSocket(socket);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await fs.chmod(socket, options.mode ?? 0o660);

  return {
    socket,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await Promise.allSettled([...inFlight]);
    },
  };
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': PLUGIN_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** The request's JSON object; an empty body is `{}` (Activate, List and Capabilities send none). */
function readBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new InvalidArgument(`invalid request: body larger than ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({});
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        return reject(new InvalidArgument(`invalid request: body is not JSON: ${(err as Error).message}`));
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        return reject(new InvalidArgument('invalid request: body must be a JSON object'));
      }
      resolve(parsed as Record<string, unknown>);
    });
  });
}

/** Removes a stale socket file left by a killed server; refuses one something still answers on, or a non-socket. */
async function claimSocket(socket: string): Promise<void> {
  await fs.mkdir(path.dirname(socket), { recursive: true });
  if (!existsSync(socket)) return;
  const st = await fs.lstat(socket);
  if (!st.isSocket()) throw new Conflict(`${socket} exists and is not a socket: refusing to replace it`);
  const answers = await new Promise<boolean>((resolve) => {
    const c = net.connect(socket);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (answers) throw new Conflict(`another server is listening on ${socket}`);
  await fs.rm(socket, { force: true });
}
