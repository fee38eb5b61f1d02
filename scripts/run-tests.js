// Runs the uvu suites of every package, then test/e2e, test/clients, test/hostile,
// test/registry and test/crash, and sums their results into one closing line. Suites run
// side by side (BERTH_TEST_JOBS at once, default one more than the CPUs: most of a suite's
// time is spent waiting on containers, daemons and the disk); the suites whose files each
// start a berthd of their own run a job per file, the engine's unit suite in shards (SPLIT),
// and the suites that assert something other suites' load or containers would change run
// alone first (ALONE). Under its line each suite lists its files that took 2 s or more. A
// suite that crashes before reporting counts as one failure, so a broken suite can never
// look green. Each test and hook runs under its own time limit (@berth/testkit/timeout,
// through uvuArgs); a job (one uvu process) that still runs past its wall-clock limit (a
// hook stuck in a synchronous loop, a process that never exits after its report) is
// killed with its process group and its suite counted as failed. After every suite, a
// full run checks the whole machine for what the tests left (machineLeaks), leaving out
// what was there before it started (an earlier run's leak, which that run reported).
//
//   node scripts/run-tests.js [filter...]   only the suites whose name contains a filter
//   BERTH_TEST_JOBS=<n>                     how many jobs run at once (1: one after another)
//   BERTH_SUITE_TIMEOUT_MS=<ms>             every job's wall-clock limit (default: 5 min
//                                           for a unit suite's, 20 min for one of test/e2e,
//                                           test/crash or test/clients, 5 min for test/hostile)
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

// The suites running now. Their process groups are not the terminal's, so a Ctrl-C reaches
// only this runner, which passes it on rather than leave them running.
const running = new Set();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of running) {
      try {
        process.kill(-child.pid, signal);
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
        // @berth/testkit/timeout prints each file's time after uvu's report (fileTimes).
        BERTH_TEST_FILE_TIMES: '1',
        // Unit suites (each package's test/) report coverage; the end-to-end suite does not.
        ...(suite.dir === 'test' && process.env.BERTH_COVERAGE_DIR ? { NODE_V8_COVERAGE: process.env.BERTH_COVERAGE_DIR } : {}),
        ...suite.env,
      },
    });
    running.add(child);
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
      running.delete(child);
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

/** The files of a suite that took at least this long are listed under its line, slowest first. */
const SLOW_FILE_MS = 2000;

/**
 * Take the per-file times (@berth/testkit/timeout's FILE_TIMES_MARK line) out of a suite's
 * output: { out without the line, files: [[file, ms], ...] slowest first }.
 */
function fileTimes(out) {
  const mark = 'berth-test-file-times: ';
  const at = out.lastIndexOf(mark);
  if (at < 0) return { out, files: [] };
  const end = out.indexOf('\n', at);
  let files = [];
  try {
    files = Object.entries(JSON.parse(out.slice(at + mark.length, end < 0 ? undefined : end))).sort((a, b) => b[1] - a[1]);
  } catch {}
  return { out: out.slice(0, at) + (end < 0 ? '' : out.slice(end + 1)), files };
}

function summarise(suite, rawOut, { code, signal, killed, limitMs, seconds }) {
  const { out, files } = fileTimes(rawOut);
  return { ...summariseResult(suite, out, { code, signal, killed, limitMs, seconds }), files, seconds: Number(seconds) };
}

function summariseResult(suite, out, { code, signal, killed, limitMs, seconds }) {
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

/**
 * How a suite is cut into jobs, each one uvu process. A suite whose files each start a
 * berthd of their own (the harness isolates them: data root, cgroup parent, bridge,
 * nftables table, address pool) runs each file as a job; the engine's unit suite, the
 * longest, in a few shards of its files; every other suite as one job. Files of one job
 * run one after another, as uvu runs them.
 */
const SPLIT = { 'test/e2e': 'file', 'test/crash': 'file', 'test/clients': 'file', 'packages/engine': 4 };

/**
 * Suites run alone, before the others start, because they assert something of the whole
 * machine that other suites change meanwhile: network-host's tests compare the host's
 * whole list of links before and after (any container started elsewhere adds a veth);
 * test/hostile bounds /_ping's latency (50 ms) while its daemon is under attack, which
 * the load of other suites beside it would break, not the daemon.
 */
const ALONE = new Set(['plugins/network-host', 'test/hostile']);

/** The test files of a suite (uvu's names: relative to its directory), as uvu would find them. */
function testFiles(suite) {
  const pattern = new RegExp(suite.pattern ?? '\\.test\\.ts$', 'i');
  const found = [];
  const walk = (dir, rel) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name.startsWith('.git')) continue;
      const name = rel ? path.join(rel, e.name) : e.name;
      if (e.isDirectory()) walk(path.join(dir, e.name), name);
      else if (pattern.test(name)) found.push({ name, bytes: fs.statSync(path.join(dir, e.name)).size });
    }
  };
  walk(path.join(suite.cwd, suite.dir), '');
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Seconds a suite, or a file of a suite that runs in several jobs, took when everything ran
 * one after another (2-core VM, December 2026); what is not named here takes a second or
 * so (a file) or a few (a suite). Only the order of the queue and the shards' balance come
 * from it (the longest first, so that no long job starts last and ends alone): a stale
 * figure costs some wall time, never a result.
 */
const EXPECTED_SECONDS = {
  'packages/image': 27,
  'plugins/storage-fuse': 47,
  'plugins/runtime-oci': 27,
  'test/hostile': 22,
  'plugins/storage-btrfs': 21,
  'packages/api': 17,
  'packages/registry': 13,
  'plugins/network-bridge': 12,
  'plugins/storage-overlay': 9,
  'plugins/storage-vfs': 9,
  'packages/builder': 8,
  'plugins/discovery-docker': 7,
  'packages/engine/mount-helpers.test.ts': 31,
  'packages/engine/storage-migration.test.ts': 10,
  'packages/engine/engine-api-contract.test.ts': 9,
  'packages/engine/build-executor.test.ts': 8,
  'packages/engine/health.test.ts': 8,
  'packages/engine/restart-policy.test.ts': 6,
  'packages/engine/oci/runc.test.ts': 5,
  'packages/engine/volumes.test.ts': 4,
  'packages/engine/recovery.test.ts': 3,
  'packages/engine/engine.test.ts': 3,
  'packages/engine/btrfs-full.test.ts': 3,
  'test/crash/crash.test.ts': 43,
  'test/crash/storage-migration-crash.test.ts': 35,
  'test/crash/network-crash.test.ts': 18,
  'test/crash/shim-crash.test.ts': 8,
  'test/clients/clients.test.ts': 11,
  'test/clients/compose.test.ts': 8,
  'test/clients/compose-full.test.ts': 7,
  'test/e2e/networks.test.ts': 24,
  'test/e2e/exec.test.ts': 24,
  'test/e2e/dns.test.ts': 21,
  'test/e2e/volumes-local.test.ts': 20,
  'test/e2e/network-connect.test.ts': 19,
  'test/e2e/cli-interactive.test.ts': 18,
  'test/e2e/containers.test.ts': 17,
  'test/e2e/storage-drivers.test.ts': 16,
  'test/e2e/filesystem.test.ts': 16,
  'test/e2e/published-ports.test.ts': 14,
  'test/e2e/registry.test.ts': 14,
  'test/e2e/volumes.test.ts': 14,
  'test/e2e/build.test.ts': 13,
  'test/e2e/health-exec-events.test.ts': 12,
  'test/e2e/volume-plugins.test.ts': 10,
  'test/e2e/network-plugins.test.ts': 9,
  'test/e2e/image-io.test.ts': 8,
  'test/e2e/volume-loop.test.ts': 7,
  'test/e2e/berth-registry.test.ts': 7,
  'test/e2e/logs-health.test.ts': 6,
  'test/e2e/docker-cli.test.ts': 5,
  'test/e2e/restart.test.ts': 4,
  'test/e2e/storage-migrate.test.ts': 4,
  'test/e2e/tty-drain.test.ts': 4,
};

/**
 * The jobs of a suite: { suite, pattern, weight, label }. `weight`, the seconds the job is
 * expected to take (EXPECTED_SECONDS), orders the queue.
 */
function jobsOf(suite) {
  const split = SPLIT[suite.name];
  const files = split ? testFiles(suite) : [];
  const seconds = (fs_) => fs_.reduce((n, f) => n + (EXPECTED_SECONDS[`${suite.name}/${f.name}`] ?? 1), 0);
  const only = (fs_) => `^(?:${fs_.map((f) => escapeRegExp(f.name)).join('|')})$`;
  const job = (fs_, label) => ({ suite, pattern: only(fs_), weight: seconds(fs_), label });
  if (split === 'file') return files.map((f) => job([f], f.name));
  if (typeof split === 'number' && files.length > split) {
    // The longest file first into the lightest shard.
    const shards = Array.from({ length: split }, () => []);
    for (const f of [...files].sort((a, b) => seconds([b]) - seconds([a]) || b.bytes - a.bytes)) {
      shards.sort((a, b) => seconds(a) - seconds(b))[0].push(f);
    }
    return shards.map((fs_, i) => job(fs_, `shard ${i + 1}/${split}`));
  }
  return [{ suite, pattern: suite.pattern, weight: EXPECTED_SECONDS[suite.name] ?? 3, label: suite.name }];
}

/**
 * How many jobs run at once: BERTH_TEST_JOBS, else one more than the CPUs (most of a job's
 * time is spent waiting on containers, daemons and the disk, not computing).
 */
function concurrency() {
  const raw = process.env.BERTH_TEST_JOBS;
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`BERTH_TEST_JOBS must be a whole number of at least 1, got "${raw}"`);
    return n;
  }
  return require('node:os').availableParallelism() + 1;
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
  const slots = concurrency();
  const started = Date.now();

  const chosen = suites.filter((suite) => !only.length || only.some((o) => suite.name.includes(o)));
  // What an earlier run left on this machine (a run killed, or one whose test failed
  // midway) is not this run's leak: known before the first suite, left out of the check.
  const leftBefore = only.length ? new Set() : new Set(machineLeaks());
  // What each suite's jobs came to, to print once the last of them ended.
  const bySuite = new Map(
    chosen.map((s) => [s.name, { jobs: 0, done: 0, passed: 0, failed: 0, seconds: 0, lines: [], outs: [], files: [] }]),
  );
  let passed = 0;
  let failed = 0;
  const failedSuites = [];
  const finish = (suite, job, r) => {
    const agg = bySuite.get(suite.name);
    agg.done += 1;
    agg.passed += r.passed;
    agg.failed += r.failed;
    agg.seconds += r.seconds;
    agg.files.push(...r.files);
    if (!r.ok) {
      agg.lines.push(agg.jobs > 1 ? r.line.replace(`${suite.name}:`, `${suite.name} (${job.label}):`) : r.line);
      agg.outs.push(r.out);
    }
    if (agg.done < agg.jobs) return;
    passed += agg.passed;
    failed += agg.failed;
    const slow = agg.files
      .filter(([, ms]) => ms >= SLOW_FILE_MS)
      .sort((a, b) => b[1] - a[1])
      .map(([file, ms]) => `\n    ${(ms / 1000).toFixed(1)}s ${file}`)
      .join('');
    if (!agg.lines.length) {
      console.log(`✔ ${suite.name}: ${agg.passed} passed (${agg.seconds.toFixed(1)}s)${slow}`);
    } else {
      failedSuites.push(suite.name);
      console.log(`${agg.lines.join('\n')}${slow}\n${agg.outs.join('\n')}`);
    }
  };

  const alone = [];
  const queue = [];
  for (const suite of chosen) {
    const jobs = jobsOf(suite);
    bySuite.get(suite.name).jobs = jobs.length;
    (ALONE.has(suite.name) ? alone : queue).push(...jobs);
  }
  queue.sort((a, b) => b.weight - a.weight);
  const runJob = async (job) => finish(job.suite, job, await runSuite({ ...job.suite, pattern: job.pattern, limitMs: envLimit }));
  for (const job of alone) await runJob(job);
  // `slots` workers take jobs from the queue. Tests that put subnets on the host claim
  // their block of the test address space (@berth/testkit's claimTestBlock), so jobs side
  // by side never pick the same one.
  await Promise.all(
    Array.from({ length: slots }, async () => {
      for (let job = queue.shift(); job; job = queue.shift()) await runJob(job);
    }),
  );
  console.log(`suites took ${((Date.now() - started) / 1000).toFixed(1)}s, ${slots} jobs at a time`);
  // After every suite: the machine must hold nothing the tests made. Each suite checks
  // its own daemon; this catches what falls between them (a daemon that never stopped, a
  // test that died, a temporary directory nobody removed). The tests name everything
  // berth-e2e / berth-unit.
  if (!only.length) {
    const leaks = machineLeaks().filter((leak) => !leftBefore.has(leak));
    if (leftBefore.size) {
      console.log(`! left on this machine before this run (not counted): ${leftBefore.size}\n  ${[...leftBefore].join('\n  ')}`);
    }
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

module.exports = { runSuite, jobsOf, testFiles };

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
