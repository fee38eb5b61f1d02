/**
 * optimizeSeccompProgram: the optimized program returns what the original returns for
 * every input probed (test/support/cbpf.ts: an emulator of its own, the kernel's
 * semantics), on crun's program for Docker's default profile, on programs built for the
 * edge cases, and on random programs the kernel accepts; the kernel loads the results.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { withTimeout } from '@berth/testkit/timeout';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type BpfInstruction, decodeBpf, encodeBpf, optimizeSeccompProgram, seccompFilterError } from '../src/seccomp-optimizer.js';
import { describeSeccompData, probeInputs, Random, randomProgram, runFilter } from './support/cbpf.js';

const dockerDefault = readFileSync(path.join(__dirname, 'fixtures/crun-docker-default.bpf'));
const loader = path.join(__dirname, 'support/seccomp-load.c');

/** Assert that `b` returns what `a` returns on every probe; the number of probes. */
function assertEquivalent(
  a: readonly BpfInstruction[],
  b: readonly BpfInstruction[],
  rnd: Random,
  options: Parameters<typeof probeInputs>[2],
  what: string,
): number {
  let count = 0;
  for (const data of probeInputs(a, rnd, options)) {
    const want = runFilter(a, data);
    const got = runFilter(b, data);
    if (want !== got) {
      assert.unreachable(`${what}: ${describeSeccompData(data)}: 0x${want.toString(16)} became 0x${got.toString(16)}`);
    }
    count++;
  }
  return count;
}

const insn = (code: number, k = 0, jt = 0, jf = 0): BpfInstruction => ({ code, jt, jf, k });

test(
  "crun's program for Docker's default profile: equivalent everywhere probed, a fraction of the length, accepted by the kernel's rules",
  withTimeout(60_000, () => {
    const original = decodeBpf(dockerDefault);
    const optimized = optimizeSeccompProgram(dockerDefault);
    assert.is.not(optimized, dockerDefault, 'rewritten');
    const out = decodeBpf(optimized);
    assert.is(seccompFilterError(out), undefined);
    assert.ok(out.length < original.length / 2, `${out.length} instructions against ${original.length}`);
    const probes = assertEquivalent(original, out, new Random(1), { nrs: 2000, x32: 1000, randomNrs: 300, argSets: 2 }, 'docker default');
    assert.ok(probes > 100_000, `${probes} probes`);
    // the same program again: already a tree, nothing to gain
    assert.is(optimizeSeccompProgram(optimized), optimized, 'an optimized program is returned as it is');
  }),
);

test('what the kernel would refuse, or what uses the number or architecture beyond comparisons, is returned as it is', () => {
  const cases: BpfInstruction[][] = [
    [insn(0x28, 0), insn(0x06, 0)], // LD H ABS: not in seccomp's subset
    [insn(0x20, 2), insn(0x06, 0)], // unaligned load
    [insn(0x20, 16), insn(0x94, 7), insn(0x16)], // MOD: classic BPF has it, seccomp refuses it
    [insn(0x20, 64), insn(0x06, 0)], // past seccomp_data
    [insn(0x60, 0), insn(0x06, 0)], // scratch word read before written
    [insn(0x20, 0)], // no ret last
    [insn(0x15, 0, 5, 0), insn(0x06, 0)], // jump out of the program
    [insn(0x20, 0), insn(0x04, 1), insn(0x15, 60, 0, 1), insn(0x06, 0), insn(0x06, 0x7fff0000)], // nr + 1
    [insn(0x20, 0), insn(0x45, 1, 0, 1), insn(0x06, 0), insn(0x06, 0x7fff0000)], // jset on nr
    [insn(0x20, 16), insn(0x07), insn(0x20, 0), insn(0x1d, 0, 0, 1), insn(0x06, 0), insn(0x06, 0x7fff0000)], // nr == arg0
  ];
  for (const c of cases) {
    const program = encodeBpf(c);
    assert.is(optimizeSeccompProgram(program), program);
  }
  const odd = Buffer.alloc(12);
  assert.is(optimizeSeccompProgram(odd), odd);
});

test('a program that loads an argument before anything else is returned as it is: the cache stops there, nothing to gain', () => {
  // Two chains of 300 numbers each with its own return, chosen by an argument.
  const chain = (base: number) => Array.from({ length: 300 }, (_, n) => [insn(0x15, n * 2, 0, 1), insn(0x06, base + n)]).flat();
  const a = chain(0x50000);
  const b = chain(0x60000);
  const prog = [
    insn(0x20, 16),
    insn(0x15, 1, 0, a.length + 2),
    insn(0x20, 0),
    ...a,
    insn(0x05, b.length + 1),
    insn(0x20, 0),
    ...b,
    insn(0x06, 0x7fff0000),
  ];
  assert.is(seccompFilterError(prog), undefined);
  const input = encodeBpf(prog);
  assert.is(optimizeSeccompProgram(input), input);
});

/** libseccomp's linear shape: arch check, then `n` syscalls tested one by one, `special` ones checking arguments with `block`. */
function linear(n: number, block: (nr: number) => BpfInstruction[]): BpfInstruction[] {
  const body: BpfInstruction[][] = [];
  for (let nr = 0; nr < n; nr++) body.push(block(nr));
  const prog: BpfInstruction[] = [insn(0x20, 4), insn(0x15, 0xc000003e, 1, 0), insn(0x06, 0), insn(0x20, 0)];
  for (const b of body) {
    // jeq nr → the block; not → next test (a ja over the block)
    prog.push(...b);
  }
  prog.push(insn(0x06, 0x00050001));
  return prog;
}

test('edge cases: arithmetic on arguments, X, scratch words, jset, ret A, division by a zero X, long jumps', () => {
  const rnd = new Random(7);
  const blocks: Array<(nr: number) => BpfInstruction[]> = [
    // arg0 & 0xff == nr: allow; the test uses X, scratch memory and arithmetic
    (nr) => [
      insn(0x15, nr * 3, 0, 9),
      insn(0x20, 16),
      insn(0x54, 0xff),
      insn(0x02, 3),
      insn(0x01, nr),
      insn(0x61, 3),
      insn(0x87),
      insn(0x1d, 0, 0, 1),
      insn(0x06, 0x7fff0000),
      insn(0x20, 0),
    ],
    // jset on arg1's high half; ret A of arg2 ^ nr's constant
    (nr) => [
      insn(0x15, nr * 2 + 1, 0, 5),
      insn(0x20, 28),
      insn(0x45, 0x80000000, 0, 2),
      insn(0x20, 32),
      insn(0xa4, nr),
      insn(0x16),
      insn(0x20, 0),
    ],
    // division by X: X from arg0's low half (0 makes the program return 0)
    (nr) => [insn(0x15, 1000 + nr, 0, 5), insn(0x20, 16), insn(0x07), insn(0x00, 100), insn(0x3c), insn(0x16), insn(0x20, 0)],
    // X holds the number (tax) and a constant is compared with it (jgt X)
    (nr) => [insn(0x07), insn(0x00, 200 + nr), insn(0x3d, 0, 1, 0), insn(0x06, 0x00050000 + nr), insn(0x20, 0)],
    // shift by an X of 40 (not folded), division by a constant, neg
    (nr) => [
      insn(0x15, nr + 7, 0, 8),
      insn(0x01, 40),
      insn(0x20, 40),
      insn(0x6c),
      insn(0x34, 7),
      insn(0x84),
      insn(0x02, 0),
      insn(0x16),
      insn(0x20, 0),
    ],
  ];
  for (const [i, block] of blocks.entries()) {
    for (const n of [3, 40, 120]) {
      const prog = linear(n, block);
      assert.is(seccompFilterError(prog), undefined, `case ${i}/${n} is a valid program`);
      const input = encodeBpf(prog);
      const output = optimizeSeccompProgram(input);
      if (n === 120) assert.is.not(output, input, `case ${i}/${n} rewritten`);
      const out = decodeBpf(output);
      assert.is(seccompFilterError(out), undefined);
      assertEquivalent(prog, out, rnd, { nrs: 400, x32: 10, randomNrs: 20, argSets: 3 }, `case ${i}/${n}`);
    }
  }
});

test(
  'random programs the kernel accepts: the optimizer returns them as they are or an equivalent program',
  withTimeout(60_000, () => {
    const counts = { seccomp: [0, 0], free: [0, 0] };
    for (let seed = 1; seed <= 150; seed++) {
      const rnd = new Random(seed * 2654435761);
      const shape = seed % 3 === 0 ? 'free' : 'seccomp';
      const prog = randomProgram(rnd, shape);
      const error = seccompFilterError(prog);
      assert.is(error, undefined, `seed ${seed}: the generator made a valid program`);
      const input = encodeBpf(prog);
      const output = optimizeSeccompProgram(input);
      counts[shape][output === input ? 1 : 0]++;
      if (output === input) continue;
      const out = decodeBpf(output);
      assert.is(seccompFilterError(out), undefined, `seed ${seed}`);
      assertEquivalent(prog, out, rnd, { nrs: 300, x32: 4, randomNrs: 10, argSets: 2 }, `seed ${seed} (${shape})`);
    }
    // not a vacuous pass: most of libseccomp's shape is rewritten
    assert.ok(counts.seccomp[0] > counts.seccomp[1], `rewritten/kept: ${JSON.stringify(counts)}`);
  }),
);

/** Compile the test's loader (support/seccomp-load.c) into `dir`. */
function buildLoader(dir: string): string {
  const bin = path.join(dir, 'seccomp-load');
  execFileSync('cc', ['-O2', '-o', bin, loader]);
  return bin;
}

test(
  "the kernel loads the optimized program, and it allows and refuses the calls crun's does",
  withTimeout(30_000, () => {
    const dir = mkdtempSync('/tmp/berth-unit-rt-seccomp-');
    try {
      const bin = buildLoader(dir);
      const files = { original: path.join(dir, 'original.bpf'), optimized: path.join(dir, 'optimized.bpf') };
      writeFileSync(files.original, dockerDefault);
      writeFileSync(files.optimized, optimizeSeccompProgram(dockerDefault));
      const calls: Array<[string, string[], RegExp]> = [
        ['getpid', ['39'], /^ok /],
        ['keyctl', ['250', '0'], /^errno 1$/], // EPERM by Docker's default action
        ['personality(0xffffffff)', ['135', '4294967295'], /^ok /], // allowed by its argument
        ['personality(1)', ['135', '1'], /^errno 1$/], // refused by its argument
        ['unshare(CLONE_NEWUSER)', ['272', '268435456'], /^errno 1$/],
        ['mkdir', ['83', '0'], /^errno 14$/], // allowed: the kernel's EFAULT for a null path
      ];
      for (const [name, args, want] of calls) {
        const seen: string[] = [];
        for (const file of [files.original, files.optimized]) {
          const r = spawnSync(bin, [file, 'call', ...args], { encoding: 'utf8' });
          assert.is(r.status, 0, `${name} under ${path.basename(file)}: ${r.stderr}`);
          seen.push(r.stdout.trim());
          assert.match(r.stdout.trim(), want, `${name} under ${path.basename(file)}`);
        }
        assert.is(seen[0].split(' ')[0], seen[1].split(' ')[0], name);
      }
      const r = spawnSync(bin, [files.optimized, 'time', '5'], { encoding: 'utf8' });
      assert.is(r.status, 0, r.stderr);
      assert.match(r.stdout, /^median_us \d+/);
      // random programs and what the optimizer made of them: the kernel agrees with seccompFilterError
      let rewritten = 0;
      for (let seed = 1; seed <= 24; seed++) {
        const input = encodeBpf(randomProgram(new Random(seed * 2654435761), seed % 3 === 0 ? 'free' : 'seccomp'));
        const output = optimizeSeccompProgram(input);
        if (output !== input) rewritten++;
        for (const [name, program] of [
          ['input', input],
          ['output', output],
        ] as const) {
          const file = path.join(dir, `${seed}-${name}.bpf`);
          writeFileSync(file, program);
          const loaded = spawnSync(bin, [file, 'time', '1'], { encoding: 'utf8' });
          assert.is(loaded.status, 0, `seed ${seed} ${name}: ${loaded.stderr}`);
        }
      }
      assert.ok(rewritten > 12, `${rewritten} of 24 rewritten`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }),
);

test.run();
