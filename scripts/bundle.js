// Bundles the berth CLI into one file (from tsc's output, so decorator metadata
// survives): `berth run` is timed end to end, and one file loads in a third of the
// time of the package graph. berthd runs from dist: it starts once and stays.
//
// Then writes the bundle's V8 code cache (packages/cli/dist/berth.bundle.cache), made in
// a child Node (same binary, no flags: V8 refuses a cache made under other flags) after
// it ran `berth run --rm busybox true` against a fake daemon, so the cache holds the
// functions `run` compiles lazily (~2 ms of its start-up). Only `run`: V8 deserializes
// every function of a cache, and one warmed by more commands (154 KB against 100 KB)
// made `run` 1 ms slower and the others no faster. The cache holds a copy of the bundle
// it was made from; bin/berth uses it only while the bundle is byte for byte that copy.
'use strict';
const path = require('node:path');

const root = path.resolve(__dirname, '..');

if (process.argv[2] === '--code-cache') {
  writeCodeCache().catch((err) => {
    console.error(`bundle: cannot write the CLI's code cache: ${err.stack || err}`);
    process.exit(1);
  });
} else {
  require('esbuild').buildSync({
    entryPoints: [path.join(root, 'packages/cli/dist/src/main.js')],
    outfile: path.join(root, 'packages/cli/dist/berth.bundle.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: false,
    sourcemap: false,
    // `berth registry` runs the registry server in the CLI's process; it is required from
    // node_modules when that verb runs, so the bundle every other command loads stays small.
    external: ['@berth/registry'],
    logLevel: 'warning',
  });
  const r = require('node:child_process').spawnSync(process.execPath, [__filename, '--code-cache'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

async function writeCodeCache() {
  const fs = require('node:fs');
  const cli = require(path.join(root, 'packages/cli/bin/berth'));
  fs.rmSync(cli.codeCache, { force: true });
  const source = fs.readFileSync(cli.bundle, 'utf8');
  const { exports, script } = cli.runBundle(cli.bundle, source, undefined);
  const fake = await fakeDaemon();
  process.env.BERTH_HOST = fake.host;
  // The output goes nowhere; the status must be 0, or the cache warmed the wrong path.
  const write = process.stdout.write;
  process.stdout.write = (_chunk, ...rest) => {
    const cb = rest.find((x) => typeof x === 'function');
    if (cb) process.nextTick(cb);
    return true;
  };
  try {
    const code = await exports.main(['run', '--rm', 'busybox', 'true']);
    if (code !== 0) throw new Error(`berth run against the fake daemon: status ${code}`);
  } finally {
    process.stdout.write = write;
    await fake.close();
  }
  fs.writeFileSync(cli.codeCache, cli.codeCacheFile(source, script.createCachedData()));
  // A cache V8 refuses (or bin/berth does not read) would only cost time: check it in a fresh Node.
  const check = require('node:child_process').spawnSync(
    process.execPath,
    [
      '-e',
      `const c = require(${JSON.stringify(path.join(root, 'packages/cli/bin/berth'))});
const cached = c.readCodeCache(c.bundle, c.codeCache);
process.exit(cached && !c.runBundle(c.bundle, cached.source, cached.data).script.cachedDataRejected ? 0 : 1);`,
    ],
    { stdio: 'inherit' },
  );
  if (check.status !== 0) {
    fs.rmSync(cli.codeCache, { force: true });
    throw new Error('V8 refused the code cache it just made');
  }
  process.exit(0);
}

/** Just enough of berthd for the warm-up: one container that runs and exits 0 at start. */
async function fakeDaemon() {
  const { FakeDaemon, UPGRADE_RESPONSE, sendJson } = require('@berth/client/testing');
  const { encodeFrame } = require('@berth/client');
  const fake = await FakeDaemon.start('berth-bundle');
  const id = 'c0ffee'.padEnd(64, '0');
  const pending = [];
  fake.on('POST', '/containers/create', (_q, res) => sendJson(res, 201, { Id: id, Warnings: [] }));
  fake.onUpgrade('POST', `/containers/${id}/attach`, (_q, socket) => {
    socket.write(UPGRADE_RESPONSE);
    socket.on('data', () => {});
    socket.on('error', () => {});
    pending.push(() => socket.end(encodeFrame(1, '')));
  });
  fake.on('POST', `/containers/${id}/wait`, (_q, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    pending.push(() => res.end('{"StatusCode":0,"Error":null}\n'));
  });
  fake.on('POST', `/containers/${id}/start`, (_q, res) => {
    res.writeHead(204);
    res.end();
    for (const finish of pending.splice(0)) finish();
  });
  return fake;
}
