/**
 * A classic BPF emulator with the kernel's semantics for the seccomp subset, written
 * apart from the optimizer (src/seccomp-optimizer.ts) so that the equivalence tests do
 * not check it against itself, and a generator of random programs the kernel accepts.
 *
 * Semantics (net/core/filter.c's conversion to eBPF, kernel/bpf/core.c): A and X start at
 * 0; arithmetic is on 32 bits; a division or modulo by an X of 0 ends the program with
 * 0; a shift by X uses X's low 5 bits; `LD W ABS k` reads the 32-bit word at byte k of
 * `struct seccomp_data` in host order (little-endian: a 64-bit field's low half first);
 * `LD/LDX W LEN` give 64.
 */
import type { BpfInstruction } from '../../src/seccomp-optimizer.js';

/** A `struct seccomp_data` (64 bytes): nr, arch, instruction_pointer, args[6], 64-bit fields as [low, high] halves. */
export function seccompData(nr: number, arch: number, ip: [number, number], args: Array<[number, number]>): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(nr >>> 0, 0);
  b.writeUInt32LE(arch >>> 0, 4);
  b.writeUInt32LE(ip[0] >>> 0, 8);
  b.writeUInt32LE(ip[1] >>> 0, 12);
  for (let i = 0; i < 6; i++) {
    b.writeUInt32LE((args[i]?.[0] ?? 0) >>> 0, 16 + 8 * i);
    b.writeUInt32LE((args[i]?.[1] ?? 0) >>> 0, 20 + 8 * i);
  }
  return b;
}

/** seccomp_data's words, for a failure's message. */
export function describeSeccompData(b: Buffer): string {
  const w = (at: number) => `0x${b.readUInt32LE(at).toString(16)}`;
  const args = Array.from({ length: 6 }, (_, i) => `${w(20 + 8 * i)}:${w(16 + 8 * i)}`);
  return `nr ${w(0)} arch ${w(4)} ip ${w(12)}:${w(8)} args ${args.join(' ')}`;
}

/** The program's return value for `data` (the bytes of a seccomp_data). */
export function runFilter(prog: readonly BpfInstruction[], data: Buffer): number {
  let a = 0;
  let x = 0;
  const mem = new Uint32Array(16);
  let pc = 0;
  for (;;) {
    if (pc >= prog.length) throw new Error(`ran off the program at ${pc}`);
    const { code, jt, jf, k } = prog[pc];
    switch (code) {
      case 0x06:
        return k >>> 0;
      case 0x16:
        return a >>> 0;
      case 0x20:
        a = data.readUInt32LE(k);
        break;
      case 0x80:
        a = 64;
        break;
      case 0x81:
        x = 64;
        break;
      case 0x00:
        a = k >>> 0;
        break;
      case 0x01:
        x = k >>> 0;
        break;
      case 0x60:
        a = mem[k];
        break;
      case 0x61:
        x = mem[k];
        break;
      case 0x02:
        mem[k] = a;
        break;
      case 0x03:
        mem[k] = x;
        break;
      case 0x07:
        x = a;
        break;
      case 0x87:
        a = x;
        break;
      case 0x05:
        pc += k;
        break;
      default: {
        const cls = code & 7;
        const op = code & 0xf0;
        const src = code & 0x08 ? x : k >>> 0;
        if (cls === 0x05) {
          const taken =
            op === 0x10 ? a === src : op === 0x20 ? a > src : op === 0x30 ? a >= src : op === 0x40 ? (a & src) !== 0 : undefined;
          if (taken === undefined) throw new Error(`bad jump 0x${code.toString(16)}`);
          pc += taken ? jt : jf;
        } else if (cls === 0x04) {
          if ((op === 0x30 || op === 0x90) && src === 0) return 0;
          a = alu(op, a, src);
        } else throw new Error(`opcode 0x${code.toString(16)} outside the seccomp subset`);
      }
    }
    pc++;
  }
}

function alu(op: number, a: number, b: number): number {
  switch (op) {
    case 0x00:
      return (a + b) >>> 0;
    case 0x10:
      return (a - b) >>> 0;
    case 0x20:
      return Number((BigInt(a) * BigInt(b)) & 0xffffffffn);
    case 0x30:
      return Math.trunc(a / b);
    case 0x90:
      return a % b;
    case 0x40:
      return (a | b) >>> 0;
    case 0x50:
      return (a & b) >>> 0;
    case 0x60:
      return (a << (b & 31)) >>> 0;
    case 0x70:
      return a >>> (b & 31);
    case 0x80:
      return (0x100000000 - a) % 0x100000000;
    case 0xa0:
      return (a ^ b) >>> 0;
  }
  throw new Error(`bad ALU op 0x${op.toString(16)}`);
}

/** A small deterministic generator (xorshift32), so that a failure can be replayed by its seed. */
export class Random {
  constructor(private s: number) {
    if (this.s === 0) this.s = 1;
  }
  u32(): number {
    let s = this.s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.s = s >>> 0;
    return this.s;
  }
  below(n: number): number {
    return this.u32() % n;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
}

/** seccomp's ALU operations (no MOD: seccomp_check_filter refuses it). */
const aluOps = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0xa0];

/**
 * A random program the kernel accepts: `shape` 'seccomp' is libseccomp's layout (check
 * the architecture, a chain of syscall-number tests, some with random argument checks
 * using arithmetic, X, scratch words, jset and `ret A`); 'free' is any mix of the subset
 * (arithmetic on the number or architecture included, which the optimizer must refuse).
 * Scratch words are all written first, so every read is valid whatever the paths.
 */
export function randomProgram(rnd: Random, shape: 'seccomp' | 'free', size = 40 + rnd.below(200)): BpfInstruction[] {
  const consts = [0, 1, 2, 3, 7, 0x10, 0xff, 0x1000, 0x7fffffff, 0x80000000, 0xffffffff, 0x40000000, 0xc000003e, 0x40000003];
  const k = () => (rnd.below(3) === 0 ? rnd.u32() : rnd.below(2) === 0 ? rnd.below(400) : rnd.pick(consts));
  const prog: Array<BpfInstruction | { jumpTo: number; code: number; k: number; other: number }> = [];
  const words = rnd.below(4); // scratch words 0..words-1, written first
  for (let w = 0; w < words; w++) {
    prog.push({ code: 0x00, jt: 0, jf: 0, k: k() }, { code: 0x02, jt: 0, jf: 0, k: w });
  }
  const anyInsn = (): BpfInstruction => {
    const r = rnd.below(14);
    if (r < 3) return { code: 0x20, jt: 0, jf: 0, k: 4 * rnd.below(16) };
    if (r === 3) return { code: 0x00, jt: 0, jf: 0, k: k() };
    if (r === 4) return { code: 0x01, jt: 0, jf: 0, k: rnd.pick([0, 1, 2, 31, 32, 33, k()]) };
    if (r === 5 && words > 0) return { code: rnd.pick([0x60, 0x61]), jt: 0, jf: 0, k: rnd.below(words) };
    if (r === 6) return { code: rnd.pick([0x02, 0x03]), jt: 0, jf: 0, k: rnd.below(16) };
    if (r === 7) return { code: rnd.pick([0x07, 0x87]), jt: 0, jf: 0, k: 0 };
    if (r === 8) return { code: rnd.pick([0x80, 0x81]), jt: 0, jf: 0, k: 0 };
    const op = rnd.pick(aluOps);
    if (op === 0x80) return { code: 0x84, jt: 0, jf: 0, k: 0 };
    if (rnd.below(2) === 0) return { code: 0x04 | op | 0x08, jt: 0, jf: 0, k: 0 };
    let kk = k();
    if (op === 0x60 || op === 0x70) kk %= 32;
    if ((op === 0x30 || op === 0x90) && kk === 0) kk = 3;
    return { code: 0x04 | op, jt: 0, jf: 0, k: kk };
  };
  const jumps: Array<{ at: number; targets: number[] }> = [];
  const jump = (code: number, kk: number, targets: number[]) => {
    jumps.push({ at: prog.length, targets });
    prog.push({ code, jt: 0, jf: 0, k: kk });
  };
  // Labels are resolved at the end: a target is a fraction of the rest of the program.
  const ret = () => {
    const r = rnd.below(4);
    prog.push(
      r === 0
        ? { code: 0x16, jt: 0, jf: 0, k: 0 }
        : { code: 0x06, jt: 0, jf: 0, k: rnd.pick([0x7fff0000, 0x00050001, 0x80000000, 0, k()]) },
    );
  };
  if (shape === 'seccomp') {
    prog.push(...seccompShaped(rnd, size, anyInsn, k));
    return prog as BpfInstruction[];
  }
  while (prog.length < size) {
    const r = rnd.below(8);
    if (r < 2) jump(rnd.pick([0x15, 0x25, 0x35, 0x45, 0x1d, 0x2d, 0x3d, 0x4d]), k(), [-1, -1]);
    else if (r === 2) jump(0x05, 0, [-1]);
    else if (r === 3) ret();
    else prog.push(anyInsn());
  }
  ret();
  const n = prog.length;
  const target = (at: number, hint: number): number => {
    if (hint === 1) return 0; // the next instruction
    const room = n - at - 2; // the farthest offset
    const far = rnd.below(4) === 0 ? rnd.below(room + 1) : Math.min(room, rnd.below(12));
    return hint === 0 ? room : far;
  };
  for (const { at, targets } of jumps) {
    const insn = prog[at] as BpfInstruction;
    if (insn.code === 0x05) insn.k = target(at, targets[0]);
    else {
      insn.jt = Math.min(255, target(at, targets[0]));
      insn.jf = Math.min(255, target(at, targets[1]));
    }
  }
  return prog as BpfInstruction[];
}

/**
 * The inputs to compare two programs on: every architecture `prog` compares against and
 * others, syscall numbers 0..`nrs`, the x32 range, random numbers, and arguments drawn
 * from the program's own constants (k, k±1, k in the high half, 0, random): `argSets`
 * sets for a number the program names, one for the others.
 */
export function* probeInputs(
  prog: readonly BpfInstruction[],
  rnd: Random,
  options: { nrs: number; x32: number; randomNrs: number; argSets: number },
) {
  const ks = [...new Set(prog.map((i) => i.k >>> 0))];
  // An architecture is AUDIT_ARCH_*: EM_* in the low 16 bits, flags in the top two.
  const archLike = ks.filter((kk) => (kk & 0x3fff0000) === 0 && kk & 0xc0000000);
  const sampled = Array.from({ length: 3 }, () => rnd.pick(ks));
  const archs = [
    ...new Set([...archLike.flatMap((a) => [a, a - 1, a + 1]), ...sampled, 0, 0xc000003e, 0x40000003, 0xc00000b7, 0xffffffff, rnd.u32()]),
  ];
  const word = () => {
    const kk = rnd.pick(ks);
    return rnd.pick([kk, (kk + 1) >>> 0, (kk - 1) >>> 0, 0, rnd.u32(), 0xffffffff]);
  };
  const arg = (): [number, number] => [word(), rnd.below(3) === 0 ? word() : rnd.pick([0, 0xffffffff, word()])];
  const nrs: number[] = [];
  for (let n = 0; n <= options.nrs; n++) nrs.push(n);
  for (let n = 0; n <= options.x32; n++) nrs.push(0x40000000 + n);
  for (let i = 0; i < options.randomNrs; i++) nrs.push(rnd.u32());
  const constNrs = new Set<number>();
  for (const kk of ks) if (kk < 0x10000 || (kk >= 0x40000000 && kk < 0x40010000)) constNrs.add(kk);
  nrs.push(...constNrs);
  for (const arch of archs) {
    for (const nr of nrs) {
      yield seccompData(nr, arch, [0, 0], []);
      // arguments vary where the program may check them: numbers it names
      for (let s = 0; s < (constNrs.has(nr) ? options.argSets : 1); s++) {
        yield seccompData(nr, arch, arg(), [arg(), arg(), arg(), arg(), arg(), arg()]);
      }
    }
  }
}

/**
 * libseccomp's layout: the architecture checked (an unknown one killed), then one test of
 * the syscall number after another, each followed by its block: a `ret`, or argument
 * checks that start by loading an argument, jump only within the block or to its end, and
 * end by loading the number again for the next test.
 */
function seccompShaped(rnd: Random, size: number, anyInsn: () => BpfInstruction, k: () => number): BpfInstruction[] {
  const insn = (code: number, kk = 0, jt = 0, jf = 0): BpfInstruction => ({ code, jt, jf, k: kk });
  const retK = () => insn(0x06, rnd.pick([0x7fff0000, 0x00050001, 0x80000000, 0, k()]));
  const out: BpfInstruction[] = [insn(0x20, 4), insn(0x15, rnd.pick([0xc000003e, 0x40000003]), 1, 0), insn(0x06, 0), insn(0x20, 0)];
  if (rnd.below(2) === 0) out.push(insn(0x35, 0x40000000, 0, 1), insn(0x06, 0x00050026));
  while (out.length < size) {
    const test = insn(rnd.pick([0x15, 0x15, 0x15, 0x25, 0x35]), rnd.below(3) === 0 ? k() : rnd.below(500));
    if (rnd.below(3) !== 0) {
      test.jf = 1;
      out.push(test, retK());
      continue;
    }
    const block: BpfInstruction[] = [insn(0x20, 16 + 4 * rnd.below(12))];
    const length = 2 + rnd.below(14);
    while (block.length < length) {
      const r = rnd.below(6);
      if (r === 0) block.push(retK());
      else if (r === 1) block.push(insn(0x16));
      else if (r === 2) block.push({ ...insn(rnd.pick([0x15, 0x25, 0x35, 0x45, 0x1d, 0x2d, 0x3d, 0x4d]), k()), jt: -1, jf: -1 });
      else {
        const i = anyInsn();
        if ((i.code & 0xe0) === 0x20 && i.code === 0x20 && i.k < 8) i.k = 16 + 4 * rnd.below(12);
        block.push(i);
      }
    }
    block.push(insn(0x20, 0));
    // jumps inside the block: anywhere after them, up to the final load of the number
    block.forEach((b, at) => {
      if (b.jt === -1) {
        const room = block.length - at - 2;
        b.jt = rnd.below(room + 1);
        b.jf = rnd.below(room + 1);
      }
    });
    test.jf = block.length;
    out.push(test, ...block);
  }
  out.push(retK());
  return out;
}
