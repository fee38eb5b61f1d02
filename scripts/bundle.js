// Bundles the berth CLI into one file (from tsc's output, so decorator metadata
// survives): `berth run` is timed end to end, and one file loads in a third of the
// time of the package graph. berthd runs from dist: it starts once and stays.
'use strict';
const esbuild = require('esbuild');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
esbuild.buildSync({
  entryPoints: [path.join(root, 'packages/cli/dist/src/main.js')],
  outfile: path.join(root, 'packages/cli/dist/berth.bundle.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: false,
  sourcemap: false,
  logLevel: 'warning',
});
