// What loading a container's seccomp program costs in the kernel, crun's program against
// runtime-oci's optimized one (plugins/runtime-oci/src/seccomp-optimizer.ts): the time of
// the seccomp(SECCOMP_SET_MODE_FILTER) call alone, in forked children (the loader
// plugins/runtime-oci/test/support/seccomp-load.c, compiled with cc into a temporary
// directory), rounds interleaved. Prints each program's length and the median load time
// over all rounds, the ratio, the optimizer's own time and the load average. Asserts
// nothing. No daemon.
// Usage: node bench/seccomp-load.js [rounds] [program.bpf]     (after `npm run build`)
//   default program: crun's for Docker's default profile (the runtime-oci test fixture)
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const repo = path.resolve(__dirname, '..');
const { optimizeSeccompProgram } = require('../plugins/runtime-oci');

const rounds = Number(process.argv[2] || 20);
const file = process.argv[3] || path.join(repo, 'plugins/runtime-oci/test/fixtures/crun-docker-default.bpf');
const perRound = 10;

const dir = fs.mkdtempSync('/tmp/berth-bench-seccomp-');
try {
  const loader = path.join(dir, 'seccomp-load');
  execFileSync('cc', ['-O2', '-o', loader, path.join(repo, 'plugins/runtime-oci/test/support/seccomp-load.c')]);
  const original = fs.readFileSync(file);
  const started = process.hrtime.bigint();
  const optimized = optimizeSeccompProgram(original);
  const optimizeMs = Number(process.hrtime.bigint() - started) / 1e6;
  const programs = { crun: original, optimized };
  const files = {};
  for (const [name, program] of Object.entries(programs)) {
    files[name] = path.join(dir, `${name}.bpf`);
    fs.writeFileSync(files[name], program);
  }
  const times = { crun: [], optimized: [] };
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 ? ['optimized', 'crun'] : ['crun', 'optimized']) {
      const out = execFileSync(loader, [files[name], 'time', String(perRound)], { encoding: 'utf8' });
      times[name].push(Number(/median_us (\d+)/.exec(out)[1]));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(`program ${file}${optimized === original ? ' (the optimizer returned it unchanged)' : ''}`);
  for (const name of ['crun', 'optimized']) {
    console.log(`${name.padEnd(9)} ${String(programs[name].length / 8).padStart(5)} instructions  load median ${median(times[name])} us`);
  }
  console.log(`ratio optimized/crun ${(median(times.optimized) / median(times.crun)).toFixed(3)}`);
  console.log(
    `optimizer ${optimizeMs.toFixed(1)} ms (once per program); ${rounds} rounds of ${perRound} loads each; load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
