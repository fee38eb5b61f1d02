#!/usr/bin/env node
// Line and branch coverage of each package's src/ by that package's own unit tests.
//
//   node scripts/coverage.js             runs every unit suite (as run-tests.js does) under
//                                        V8 coverage, then prints the table
//   node scripts/coverage.js --from DIR  prints the table from coverage that test runs already
//                                        wrote to DIR (their NODE_V8_COVERAGE)
//
// V8 writes one file per process. A file is credited to the package whose test/ files that
// process loaded, so one NODE_V8_COVERAGE directory can serve a whole run of run-tests.js;
// processes that loaded no package's tests (the runner itself, daemons) are ignored.
// tsx compiles each .ts file with an inline source map, which Node keeps in the coverage
// file; c8 maps the counts back to .ts lines through it. Files of src/ that no test loaded
// count as uncovered. There are no thresholds: the figures are for reading.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const { root, unitSuites, uvuArgs } = require('./unit-suites.js');

function runSuites(suites, coverageDir) {
  const failed = new Set();
  for (const suite of suites) {
    const r = spawnSync('uvu', uvuArgs('test'), {
      cwd: suite.dir,
      env: {
        ...process.env,
        NODE_OPTIONS: '--conditions=@berth/source',
        TSX_TSCONFIG_PATH: path.join(root, 'tsconfig.base.json'),
        FORCE_COLOR: '0',
        NODE_V8_COVERAGE: coverageDir,
      },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) {
      failed.add(suite.name);
      console.log(`✘ ${suite.label}: its tests failed under coverage (exit ${r.status})\n${r.stdout}${r.stderr}`);
    }
  }
  return failed;
}

/** Coverage files of `dir`, grouped by the suite whose test files the process loaded. */
function attribute(dir, suites) {
  const prefixes = suites.map((s) => ({ suite: s, prefix: `${pathToFileURL(path.join(s.dir, 'test')).href}/` }));
  const bySuite = new Map(suites.map((s) => [s.name, []]));
  for (const file of fs.readdirSync(dir)) {
    if (!/^coverage-.*\.json$/.test(file)) continue;
    let data;
    try {
      data = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    } catch {
      continue; // a process killed while writing leaves a truncated file
    }
    const owner = prefixes.find(({ prefix }) => data.result?.some((script) => script.url.startsWith(prefix)));
    if (owner) bySuite.get(owner.suite.name).push(path.join(dir, file));
  }
  return bySuite;
}

async function summarise(suite, files, scratch) {
  const { Report } = require('c8');
  const own = fs.mkdtempSync(path.join(scratch, 'suite-'));
  for (const f of files) fs.linkSync(f, path.join(own, path.basename(f)));
  // c8 matches include patterns against paths relative to the working directory.
  const cwd = process.cwd();
  process.chdir(suite.dir);
  try {
    const report = new Report({
      tempDirectory: own,
      include: ['src/**'],
      exclude: ['**/*.d.ts'],
      extension: ['.ts'],
      all: true,
      src: [suite.dir],
      reporter: [],
      resolve: '',
      excludeNodeModules: true,
    });
    const map = await report.getCoverageMapFromAllCoverageFiles();
    const s = map.getCoverageSummary();
    return { lines: s.lines, branches: s.branches, files: map.files().length };
  } finally {
    process.chdir(cwd);
  }
}

function pct(covered, total) {
  return total === 0 ? '   —  ' : `${((100 * covered) / total).toFixed(1).padStart(5)} %`;
}

async function report(coverageDir, suites, failed = new Set()) {
  const bySuite = attribute(coverageDir, suites);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-coverage-report-'));
  const rows = [];
  try {
    for (const suite of suites) {
      const files = bySuite.get(suite.name);
      rows.push({ suite, files: files.length, summary: files.length ? await summarise(suite, files, scratch) : undefined });
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const width = Math.max(...suites.map((s) => s.name.length), 'total'.length) + 2;
  console.log(`coverage of each package's src/ by its own unit tests\n${'package'.padEnd(width)}   lines   branches`);
  const total = { lc: 0, lt: 0, bc: 0, bt: 0 };
  const missing = [];
  for (const { suite, summary } of rows) {
    if (!summary) {
      missing.push(suite.name);
      continue;
    }
    total.lc += summary.lines.covered;
    total.lt += summary.lines.total;
    total.bc += summary.branches.covered;
    total.bt += summary.branches.total;
    const note = failed.has(suite.name) ? '  (its tests failed)' : '';
    console.log(
      `${suite.name.padEnd(width)}${pct(summary.lines.covered, summary.lines.total)}  ${pct(summary.branches.covered, summary.branches.total)}${note}`,
    );
  }
  console.log(`${'total'.padEnd(width)}${pct(total.lc, total.lt)}  ${pct(total.bc, total.bt)}`);
  // A filtered run covers some packages only; a crashed suite leaves none either.
  if (missing.length) console.log(`no coverage data (suite not run, or it crashed): ${missing.join(', ')}`);
}

async function main(argv) {
  const suites = unitSuites();
  const from = argv.indexOf('--from');
  if (from !== -1) {
    await report(path.resolve(argv[from + 1]), suites);
    return 0;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-coverage-'));
  try {
    const failed = runSuites(suites, dir);
    await report(dir, suites, failed);
    return failed.size ? 1 : 0;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 2;
  },
);
