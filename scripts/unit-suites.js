// The workspace packages that have unit suites, and how a suite is run: one place that
// scripts/run-tests.js and scripts/coverage.js both read, so they cannot disagree.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/**
 * uvu's arguments for the suite in `dir`: only *.test.ts files, under tsx, each test and
 * hook under a time limit (@berth/testkit/timeout: 5 s unless the file raises it).
 */
function uvuArgs(dir, pattern = '\\.test\\.ts$') {
  return ['-r', 'tsx/cjs', '-r', '@berth/testkit/timeout', dir, pattern];
}

/** Every package under packages/, plugins/ and native/ with a test/ folder: { label, name, dir }. */
function unitSuites() {
  const suites = [];
  for (const group of ['packages', 'plugins', 'native']) {
    const dir = path.join(root, group);
    if (!fs.existsSync(dir)) continue;
    for (const entry of fs.readdirSync(dir).sort()) {
      const pkgDir = path.join(dir, entry);
      const manifest = path.join(pkgDir, 'package.json');
      if (fs.existsSync(path.join(pkgDir, 'test')) && fs.existsSync(manifest)) {
        suites.push({ label: `${group}/${entry}`, name: JSON.parse(fs.readFileSync(manifest, 'utf8')).name, dir: pkgDir });
      }
    }
  }
  return suites;
}

module.exports = { root, unitSuites, uvuArgs };
