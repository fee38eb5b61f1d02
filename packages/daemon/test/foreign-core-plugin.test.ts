import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { createApiServer } from '@berth/api';
import { BerthError, isBerthError, statusOf, VolumeDriversToken } from '@berth/core';
import { createEngine, type Engine } from '@berth/engine';
import vfs from '@berth/storage-vfs';
import { buildSync } from 'esbuild';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadThirdPartyPlugins } from '../src/third-party-plugins.js';

// A third-party plugin package ships with its own node_modules, so its @berth/core is
// another copy: other classes, the same registered symbols. This test builds such a
// copy (core's source bundled by esbuild with its dependencies, so nothing is shared
// with the engine's copy but the Symbol.for brands), installs a plugin package beside
// it, and loads that package the way berthd does.
const coreSource = path.resolve(__dirname, '../../core/src/index.ts');

// The plugin package, as its author would write it against the core it depends on.
const pluginSource = `
const core = require('@berth/core');
module.exports = [
  core.definePlugin({
    kind: 'volume',
    name: 'foreign-skip',
    description: 'skips with its own copy of PluginSkipped',
    init() { throw new core.PluginSkipped('needs the foo kernel module'); },
  }),
  core.definePlugin({
    kind: 'volume',
    name: 'foreign-needy',
    description: 'requires the one that skips',
    requires: ['volume/foreign-skip'],
    init() { throw new Error('never called'); },
  }),
  core.definePlugin({
    kind: 'volume',
    name: 'foreign',
    description: 'a volume driver that knows no volume',
    init() {
      const missing = async (name) => { throw new core.NotFound('no such volume: ' + name); };
      return { name: 'foreign', get: missing, remove: missing, path: missing, mount: missing, unmount: missing,
        create: async () => {}, list: async () => [], capabilities: async () => ({ scope: 'local' }) };
    },
  }),
  core.definePlugin({
    kind: 'runtime',
    name: 'foreign',
    description: 'a runtime whose binary is gone',
    init() {
      return { name: 'foreign', describe: async () => { throw new core.NotFound('no such runtime binary: /opt/foreign/run'); } };
    },
  }),
];
`;

/** Lay out `<dir>/node_modules/{@berth/core, berth-foreign-plugin}` and return the daemon.json path to resolve from. */
function installForeignPlugin(dir: string): string {
  const core = path.join(dir, 'node_modules/@berth/core');
  mkdirSync(core, { recursive: true });
  writeFileSync(path.join(core, 'package.json'), JSON.stringify({ name: '@berth/core', version: '0.1.0', main: 'index.js' }));
  buildSync({
    entryPoints: [coreSource],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: path.join(core, 'index.js'),
    logLevel: 'error',
  });
  const plugin = path.join(dir, 'node_modules/berth-foreign-plugin');
  mkdirSync(plugin, { recursive: true });
  writeFileSync(path.join(plugin, 'package.json'), JSON.stringify({ name: 'berth-foreign-plugin', main: 'index.js' }));
  writeFileSync(path.join(plugin, 'index.js'), pluginSource);
  return path.join(dir, 'daemon.json');
}

function get(socketPath: string, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path: urlPath }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

test('a plugin built against another copy of core: its skip is a skip and its NotFound a 404', async () => {
  const dir = mkdtempSync('/tmp/berth-unit-foreign-');
  let engine: Engine | undefined;
  let api: ReturnType<typeof createApiServer> | undefined;
  try {
    const configFile = installForeignPlugin(dir);
    const plugins = loadThirdPartyPlugins(['berth-foreign-plugin'], [vfs], { configFile });
    assert.equal(
      plugins.map((p) => `${p.kind}/${p.name}`),
      ['volume/foreign-skip', 'volume/foreign-needy', 'volume/foreign', 'runtime/foreign'],
    );

    engine = await createEngine({
      dataRoot: path.join(dir, 'data'),
      execRoot: path.join(dir, 'exec'),
      cgroupParent: 'berth-unit-foreign',
      storageDriver: 'vfs',
      defaultRuntime: 'foreign',
      plugins: [vfs, ...plugins],
    });
    const skip = engine.plugins().find((p) => p.kind === 'volume' && p.name === 'foreign-skip');
    assert.equal([skip?.status, skip?.reason], ['skipped', 'needs the foo kernel module']);
    const needy = engine.plugins().find((p) => p.kind === 'volume' && p.name === 'foreign-needy');
    assert.equal(
      [needy?.status, needy?.reason],
      ['skipped', 'requires volume/foreign-skip, which was skipped: needs the foo kernel module'],
    );
    assert.is(engine.plugins().find((p) => p.kind === 'volume' && p.name === 'foreign')?.status, 'ok');

    const err = await engine.di
      .resolve(VolumeDriversToken)
      .get('foreign')!
      .get('data')
      .catch((e: unknown) => e);
    // The error really is of the other copy: this copy's classes do not know it.
    assert.not.ok(Object.prototype.isPrototypeOf.call(BerthError.prototype, err as object), 'the error should come from the other copy');
    assert.ok(isBerthError(err, 'NotFound'), String(err));
    assert.is(statusOf(err), 404);

    // Through the API: /info asks every runtime to describe itself.
    const socket = path.join(dir, 'api.sock');
    api = createApiServer(engine, { serverVersion: 'test' });
    await api.listen(socket);
    const info = await get(socket, '/info');
    assert.is(info.status, 404, info.body);
    assert.equal(JSON.parse(info.body), { message: 'no such runtime binary: /opt/foreign/run' });
  } finally {
    await api?.close();
    await engine?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
