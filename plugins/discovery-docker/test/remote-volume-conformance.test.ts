import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { connectVolumePlugin } from '@berth/discovery-docker';
import { volumeDriverSuite } from '@berth/volume-kit/conformance';

/**
 * The volume-driver conformance suite (@berth/volume-kit) through the remote adapter,
 * against test/fixtures/remote-volume-plugin.py: a Docker volume plugin written in
 * Python straight from the protocol, one process per case, started again over the same
 * state when the suite asks for a new driver (its volumes and mount IDs are on disk).
 */
const fixture = path.resolve(__dirname, '../../../test/fixtures/remote-volume-plugin.py');
const plugins = new Map<string, ChildProcess>();

async function stop(dir: string): Promise<void> {
  const child = plugins.get(dir);
  plugins.delete(dir);
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

volumeDriverSuite(
  'python plugin (through the remote adapter)',
  async (state) => {
    const dir = path.dirname(state);
    await stop(dir);
    const socket = path.join(dir, 'pyvol.sock');
    const child = spawn('python3', [fixture, '--socket', socket, '--root', state, '--log', path.join(dir, 'calls.log')], {
      stdio: 'ignore',
    });
    plugins.set(dir, child);
    // The plugin binds its socket anew at each start (a stale one is replaced).
    for (let i = 0; i < 300 && !(existsSync(socket) && (await connects(socket))); i++) await new Promise((r) => setTimeout(r, 10));
    return connectVolumePlugin(socket, { timeoutMs: 10_000 });
  },
  {
    tempPrefix: '/tmp/berth-unit-discovery-conformance-',
    // The plugin has no options, so any option is one it refuses, named in its error.
    badOptions: [{ options: { 'conformance-unknown-option': 'x' }, names: 'conformance-unknown-option' }],
    release: stop,
  },
);

function connects(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
