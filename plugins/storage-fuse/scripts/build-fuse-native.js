#!/usr/bin/env node
// Builds fuse-native from source with berth's patch (patches/fuse-native-2.2.6.patch)
// into plugins/storage-fuse/fuse-native/, linked against Debian's libfuse2.
//
// Why: fuse-native's handlers never learn the caller's uid/gid (its C never reads
// fuse_get_context()), its utimens passes atime as mtime in milliseconds, its stat
// times stop at milliseconds, its mount-option list is a whitelist without big_writes,
// and JavaScript is not told when the FUSE session ends. The patch fixes those five
// (README.md, "Why a patched fuse-native"). node_modules/fuse-native stays untouched.
//
// Offline: node-gyp takes the headers of the repository's Node (the npm `node` package)
// through npm_config_nodedir, so it never downloads them. Run by the package's `build`
// script (under npm, which puts its node-gyp on PATH); skips the compile when the
// sources and the patch are unchanged.
'use strict';
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const pkg = path.resolve(__dirname, '..');
const out = path.join(pkg, 'fuse-native');
const patchFile = path.join(pkg, 'patches', 'fuse-native-2.2.6.patch');
const sourceDir = path.dirname(require.resolve('fuse-native/package.json', { paths: [pkg] }));
const version = JSON.parse(fs.readFileSync(path.join(sourceDir, 'package.json'), 'utf8')).version;
if (version !== '2.2.6') {
  throw new Error(`storage-fuse: the patch is for fuse-native 2.2.6, node_modules has ${version}`);
}
const files = ['fuse-native.c', 'index.js', 'binding.gyp', 'package.json'];
const hash = crypto.createHash('sha256');
for (const f of files) hash.update(fs.readFileSync(path.join(sourceDir, f)));
hash.update(fs.readFileSync(patchFile));
const stamp = hash.digest('hex');
const stampFile = path.join(out, '.berth-stamp');
const built = path.join(out, 'build', 'Release', 'fuse.node');
if (fs.existsSync(built) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) process.exit(0);

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
for (const f of files) fs.copyFileSync(path.join(sourceDir, f), path.join(out, f));
// The copy must not pretend to be a package npm would run scripts for.
const manifest = JSON.parse(fs.readFileSync(path.join(out, 'package.json'), 'utf8'));
delete manifest.scripts;
delete manifest.gypfile;
fs.writeFileSync(path.join(out, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
execFileSync('patch', ['-s', '-p1', '-d', out, '-i', patchFile], { stdio: 'inherit' });

const env = { ...process.env };
const nodeHeaders = findNodeHeaders();
if (nodeHeaders) env.npm_config_nodedir = nodeHeaders;
execFileSync('node-gyp', ['rebuild', '--loglevel=error'], { cwd: out, stdio: ['ignore', 'ignore', 'inherit'], env });
fs.writeFileSync(stampFile, stamp);

/** The directory holding include/node of the Node that runs berth (the npm `node` package), if any. */
function findNodeHeaders() {
  const candidates = [path.resolve(path.dirname(process.execPath), '..')];
  try {
    const nodePkg = path.dirname(require.resolve('node/package.json', { paths: [pkg] }));
    candidates.push(path.join(nodePkg, 'node_modules', `node-${process.platform}-${process.arch}`));
  } catch {}
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h')));
}
