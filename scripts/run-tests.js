// Runs the uvu suites of every package, then test/e2e, test/clients, test/hostile, test/registry and test/crash, one after another, and sums
// their results into one closing line. A suite that crashes before reporting counts as
// one failure, so a broken suite can never look green. Each test and hook runs under
// its own time limit (@berth/testkit/timeout, through uvuArgs); a suite that still runs
// past its wall-clock limit (a hook stuck in a synchronous loop, a process that never
// exits after its report) is killed with its process group and counted as failed.
//
//   node scripts/run-tests.js [filter...]   only the suites whose name contains a filter
//   BERTH_SUITE_TIMEOUT_MS=<ms>             every suite's wall-clock limit (default: 5 min
//                                           for a unit suite, 20 min for test/e2e and test/crash, 5 min
//                                           for test/hostile)
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { root, unitSuites, uvuArgs } = require('./unit-suites.js');

// The slowest unit suite takes about 20 s and test/e2e a few minutes on a 2-core
// machine: the limits only have to end a hang, never cut a slow but healthy run short.
const UNIT_SUITE_LIMIT_MS = 5 * 60_000;
const E2E_SUITE_LIMIT_MS = 20 * 60_000;
// test/hostile attacks its own daemons for about a minute.
const HOSTILE_SUITE_LIMIT_MS = 5 * 60_000;
// After SIGTERM, how long a killed suite's processes get before SIGKILL.
const KILL_GRACE_MS = 5000;

const strip = (s) => require('node:util').stripVTControlCharacters(s);

// The suite running now. Its process group is not the terminal's, so a Ctrl-C reaches
// only this runner, which passes it on rather than leave the suite running.
let current;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (current) {
      try {
        process.kill(-current.pid, signal);
      } catch {}
    }
    process.exit(130);
  });
}

/**
 * Run one uvu suite: { name, cwd, dir } with optional `limitMs`, `env` and `pattern`
 * (of the files to run; default *.test.ts). Resolves to
 * { passed, failed, ok, line, out }: `line` is the ✔/✘ summary and `out` the suite's
 * output (to print when it failed).
 */
function runSuite(suite) {
  const started = Date.now();
  const limitMs =
    suite.limitMs ??
    (suite.dir === 'test/e2e' || suite.dir === 'test/crash' || suite.dir === 'test/clients'
      ? E2E_SUITE_LIMIT_MS
      : suite.dir === 'test/hostile'
        ? HOSTILE_SUITE_LIMIT_MS
        : UNIT_SUITE_LIMIT_MS);
  return new Promise((resolve) => {
    // Its own process group, so a killed suite takes its children (daemons, sleeps) with it.
    const child = spawn('uvu', uvuArgs(suite.dir, suite.pattern), {
      cwd: suite.cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NODE_OPTIONS: '--conditions=@berth/source',
        // tsx applies a tsconfig only to the files it includes: the base config (which includes
        // everything) gives every package's source its decorators, whichever package's tests load it.
        TSX_TSCONFIG_PATH: path.join(root, 'tsconfig.base.json'),
        FORCE_COLOR: '0',
        // Unit suites (each package's test/) report coverage; the end-to-end suite does not.
        ...(suite.dir === 'test' && process.env.BERTH_COVERAGE_DIR ? { NODE_V8_COVERAGE: process.env.BERTH_COVERAGE_DIR } : {}),
        ...suite.env,
      },
    });
    current = child;
    let raw = '';
    child.stdout.on('data', (d) => (raw += d));
    child.stderr.on('data', (d) => (raw += d));
    let killed = false;
    const killGroup = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // the group is already gone
      }
    };
    let grace;
    const limit = setTimeout(() => {
      killed = true;
      killGroup('SIGTERM');
      grace = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
    }, limitMs);
    // 'exit' rather than 'close': a grandchild that outlives uvu may hold the pipes open.
    child.on('exit', (code, signal) => {
      clearTimeout(limit);
      current = undefined;
      // Let the pipes drain what uvu wrote before it exited.
      setImmediate(() => {
        if (killed) {
          clearTimeout(grace);
          killGroup('SIGKILL');
        }
        child.stdout.destroy();
        child.stderr.destroy();
        resolve(summarise(suite, strip(raw), { code, signal, killed, limitMs, seconds: ((Date.now() - started) / 1000).toFixed(1) }));
      });
    });
  });
}

function summarise(suite, out, { code, signal, killed, limitMs, seconds }) {
  const total = /Total:\s+(\d+)/.exec(out);
  const ok = /Passed:\s+(\d+)/.exec(out);
  if (killed) {
    // What it passed before it hung still counts; the hang is at least one failure.
    const p = ok ? Number(ok[1]) : 0;
    const f = Math.max(1, total ? Number(total[1]) - p : 1);
    return {
      passed: p,
      failed: f,
      ok: false,
      line: `✘ ${suite.name}: killed after its wall-clock limit of ${limitMs / 1000} s (${seconds}s)`,
      out,
    };
  }
  if (!total || !ok) {
    const how = signal ? `killed by ${signal}` : `exit ${code}`;
    return { passed: 0, failed: 1, ok: false, line: `✘ ${suite.name}: crashed before reporting, ${how} (${seconds}s)`, out };
  }
  const t = Number(total[1]);
  const p = Number(ok[1]);
  if (t !== p || code !== 0) {
    // A suite whose tests all passed but that exits non-zero (a hook that failed) still fails once.
    return { passed: p, failed: Math.max(t - p, 1), ok: false, line: `✘ ${suite.name}: ${p}/${t} passed (${seconds}s)`, out };
  }
  return { passed: p, failed: 0, ok: true, line: `✔ ${suite.name}: ${p} passed (${seconds}s)`, out };
}

async function main() {
  const only = process.argv.slice(2);
  const suites = unitSuites().map((s) => ({ name: s.label, cwd: s.dir, dir: 'test' }));
  if (fs.existsSync(path.join(root, 'scripts/test'))) suites.push({ name: 'scripts', cwd: root, dir: 'scripts/test' });
  if (fs.existsSync(path.join(root, 'test/e2e'))) suites.push({ name: 'test/e2e', cwd: root, dir: 'test/e2e' });
  // Real clients (docker-py, dockerode) against a berthd of its own: test/clients.
  if (fs.existsSync(path.join(root, 'test/clients'))) suites.push({ name: 'test/clients', cwd: root, dir: 'test/clients' });
  if (fs.existsSync(path.join(root, 'test/hostile'))) suites.push({ name: 'test/hostile', cwd: root, dir: 'test/hostile' });
  // berth's registry (bin/berth-registry) against skopeo and the reference docker-registry: test/registry.
  if (fs.existsSync(path.join(root, 'test/registry'))) suites.push({ name: 'test/registry', cwd: root, dir: 'test/registry' });
  // The fault-injection suite (test/crash/README.md): berthd SIGKILLed under load, invariants after each restart.
  if (fs.existsSync(path.join(root, 'test/crash'))) suites.push({ name: 'test/crash', cwd: root, dir: 'test/crash' });
  const envLimit = Number(process.env.BERTH_SUITE_TIMEOUT_MS) || undefined;

  let passed = 0;
  let failed = 0;
  const failedSuites = [];
  for (const suite of suites) {
    if (only.length && !only.some((o) => suite.name.includes(o))) continue;
    const r = await runSuite({ ...suite, limitMs: envLimit });
    passed += r.passed;
    failed += r.failed;
    if (r.ok) console.log(r.line);
    else {
      failedSuites.push(suite.name);
      console.log(`${r.line}\n${r.out}`);
    }
  }
  // After every suite: the machine must hold nothing the tests made. Each suite checks
  // its own daemon; this catches what falls between them (a daemon that never stopped, a
  // test that died, a temporary directory nobody removed). The tests name everything
  // berth-e2e / berth-unit.
  if (!only.length) {
    const leaks = machineLeaks();
    if (leaks.length) {
      failed += 1;
      failedSuites.push('machine leak check');
      console.log(`✘ machine leak check: ${leaks.length} left behind\n  ${leaks.join('\n  ')}`);
    } else {
      passed += 1;
      console.log('✔ machine leak check: no test mounts, cgroups, shims, temporary directories, links or nftables tables left');
    }
  }
  if (process.env.BERTH_COVERAGE_DIR) {
    await new Promise((resolve) =>
      spawn(process.execPath, [path.join(__dirname, 'coverage.js'), '--from', process.env.BERTH_COVERAGE_DIR], { stdio: 'inherit' }).on(
        'exit',
        resolve,
      ),
    );
  }
  if (failedSuites.length) console.log(`failing suites: ${failedSuites.join(', ')}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

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
  // Every test names its temporary files and directories /tmp/berth-unit-* (unit suites)
  // or /tmp/berth-e2e-* (test/e2e) and removes them, pass or fail.
  for (const e of fs.readdirSync('/tmp')) if (/^berth-(e2e|unit)-/.test(e)) found.push(`temporary ${path.join('/tmp', e)}`);
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('berth-shim') && mark.test(cmd)) found.push(`berth-shim pid ${pid}`);
      if (/resolver-main\.(js|ts)/.test(cmd) && mark.test(cmd)) found.push(`DNS resolver pid ${pid}`);
      if (/berthd|daemon\/dist\/src\/bin\.js/.test(cmd) && mark.test(cmd)) found.push(`berthd pid ${pid}`);
    } catch {}
  }
  // Network objects: test daemons name their bridge be2e<suffix> / bcrash<suffix> and
  // their nftables table berth_be2e_<suffix> / berth_bcrash_<suffix>; the bridge driver's
  // unit tests bunit<suffix>* and berth_unit_<suffix>. A veth enslaved to one is a leak too.
  const testLink = /^(be2e|bcrash|bunit)/;
  let links = [];
  try {
    links = JSON.parse(spawnSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' }).stdout || '[]');
  } catch {}
  for (const l of links) {
    if (testLink.test(l.ifname)) found.push(`link ${l.ifname}`);
    else if (l.master && testLink.test(l.master)) found.push(`link ${l.ifname} (in ${l.master})`);
  }
  const tables = spawnSync('nft', ['list', 'tables', 'ip'], { encoding: 'utf8' }).stdout ?? '';
  for (const m of tables.matchAll(/^table ip (berth_(be2e|bcrash|unit)_\S+)$/gm)) found.push(`nftables table ${m[1]}`);
  return found;
}

module.exports = { runSuite };

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
