// Runs the uvu suites of every package, then test/e2e, one after another, and sums
// their results into one closing line. A suite that crashes before reporting counts as
// one failure, so a broken suite can never look green.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { root, unitSuites, uvuArgs } = require('./unit-suites.js');

const only = process.argv.slice(2);
const suites = unitSuites().map((s) => ({ name: s.label, cwd: s.dir, dir: 'test' }));
if (fs.existsSync(path.join(root, 'scripts/test'))) suites.push({ name: 'scripts', cwd: root, dir: 'scripts/test' });
if (fs.existsSync(path.join(root, 'test/e2e'))) suites.push({ name: 'test/e2e', cwd: root, dir: 'test/e2e' });

const strip = (s) => require('node:util').stripVTControlCharacters(s);
let passed = 0;
let failed = 0;
const failedSuites = [];
for (const suite of suites) {
  if (only.length && !only.some((o) => suite.name.includes(o))) continue;
  const started = Date.now();
  const r = spawnSync('uvu', uvuArgs(suite.dir), {
    cwd: suite.cwd,
    env: {
      ...process.env,
      NODE_OPTIONS: '--conditions=@berth/source',
      // tsx applies a tsconfig only to the files it includes: the base config (which includes
      // everything) gives every package's source its decorators, whichever package's tests load it.
      TSX_TSCONFIG_PATH: path.join(root, 'tsconfig.base.json'),
      FORCE_COLOR: '0',
      // Unit suites (each package's test/) report coverage; the end-to-end suite does not.
      ...(suite.dir === 'test' && process.env.BERTH_COVERAGE_DIR ? { NODE_V8_COVERAGE: process.env.BERTH_COVERAGE_DIR } : {}),
    },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const out = strip(`${r.stdout}${r.stderr}`);
  const total = /Total:\s+(\d+)/.exec(out);
  const ok = /Passed:\s+(\d+)/.exec(out);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (!total || !ok) {
    failed += 1;
    failedSuites.push(suite.name);
    console.log(`✘ ${suite.name}: crashed before reporting (${seconds}s)\n${out}`);
    continue;
  }
  const t = Number(total[1]);
  const p = Number(ok[1]);
  passed += p;
  failed += t - p;
  if (t !== p || r.status !== 0) {
    failedSuites.push(suite.name);
    console.log(`✘ ${suite.name}: ${p}/${t} passed (${seconds}s)\n${out}`);
  } else {
    console.log(`✔ ${suite.name}: ${p} passed (${seconds}s)`);
  }
}
// After every suite: the machine must hold nothing the tests' daemons made. Each suite
// checks its own daemon; this catches what falls between them (a daemon that never
// stopped, a test that died). The tests name everything berth-e2e / berth-unit.
if (!only.length) {
  const leaks = machineLeaks();
  if (leaks.length) {
    failed += 1;
    failedSuites.push('machine leak check');
    console.log(`✘ machine leak check: ${leaks.length} left behind\n  ${leaks.join('\n  ')}`);
  } else {
    passed += 1;
    console.log('✔ machine leak check: no test mounts, cgroups or shims left');
  }
}
if (process.env.BERTH_COVERAGE_DIR) {
  spawnSync(process.execPath, [path.join(__dirname, 'coverage.js'), '--from', process.env.BERTH_COVERAGE_DIR], { stdio: 'inherit' });
}
if (failedSuites.length) console.log(`failing suites: ${failedSuites.join(', ')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

function machineLeaks() {
  const mark = /\/tmp\/berth-(e2e|unit)-/;
  const found = [];
  for (const line of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const target = line.split(' ')[1];
    if (target && mark.test(target)) found.push(`mount ${target}`);
  }
  for (const hierarchy of fs.readdirSync('/sys/fs/cgroup')) {
    const dir = path.join('/sys/fs/cgroup', hierarchy);
    let entries = [];
    try {
      entries = fs.readdirSync(dir);
    } catch {}
    for (const e of entries) if (/^berth-(e2e|unit)-/.test(e)) found.push(`cgroup ${path.join(dir, e)}`);
  }
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('berth-shim') && mark.test(cmd)) found.push(`berth-shim pid ${pid}`);
      if (/berthd|daemon\/dist\/src\/bin\.js/.test(cmd) && mark.test(cmd)) found.push(`berthd pid ${pid}`);
    } catch {}
  }
  return found;
}
