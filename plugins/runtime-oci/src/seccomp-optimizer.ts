/**
 * A seccomp program rewritten so that the kernel loads it cheaply, with exactly the same
 * result for every `struct seccomp_data`.
 *
 * Why. Since Linux 5.11 loading a filter (`seccomp(SECCOMP_SET_MODE_FILTER)`) fills the
 * filter's action cache (`seccomp_cache_prepare`): the kernel emulates the program for
 * every system call number of every architecture it knows, to find the calls the filter
 * always allows. crun asks libseccomp for its default layout, a chain of `jeq nr` tests
 * one syscall after another (Docker's default profile: 690 instructions), so each of
 * those emulations walks hundreds of instructions: 0.7-0.9 ms in the kernel at every
 * container start and every exec (measured here; the same program with its first
 * instruction jumping to `ret ALLOW` loads in a tenth of that). runc asks libseccomp for
 * a binary tree instead; this does the same for any program, after the fact.
 *
 * Method: partial evaluation. Of `struct seccomp_data` the architecture (offset 4) and
 * the syscall number (offset 0) are treated as static, the instruction pointer and the
 * arguments as dynamic.
 * 1. An abstract run over every path collects the constants the architecture is compared
 *    against; they cut its 32-bit space into intervals on which every such comparison
 *    decides the same way. A program that does anything but compare the number or the
 *    architecture with constants (arithmetic, `jset`, a comparison with an argument or
 *    with each other) is not rewritten.
 * 2. For each architecture interval the program is evaluated with the syscall number an
 *    interval, at first all of them: a comparison that does not decide the same way over
 *    the whole interval splits it at its constant and the next value, and each part is
 *    evaluated on from there (a chain of tests in increasing order is walked once).
 *    Comparisons on the number and architecture and arithmetic on constants fold away;
 *    what depends on the instruction pointer or the arguments is kept as residual code
 *    (both sides of each such jump, registers and scratch words holding static values
 *    written out only where residual code reads them). Each interval ends in a graph of
 *    `ret K` leaves and residual blocks, shared between intervals when identical.
 * 3. The new program loads the architecture, finds its interval by binary search, loads
 *    the number and finds its interval (adjacent intervals with the same code merged) by
 *    binary search, and runs that case's code. It is laid out backwards so that every
 *    jump is forward; a conditional jump (8-bit offsets) whose target is too far goes
 *    through an unconditional `ja` (32-bit), a `ret` is copied instead.
 * The result must pass the kernel's checks (the classic BPF checker and seccomp's opcode
 * subset, both mirrored here) and cost less to load than the input (instructions walked
 * by the cache's emulations plus length); otherwise, or when anything above cannot be
 * proven, or past 4096 instructions or the work budget, the input is returned unchanged.
 * The tests (test/seccomp-optimizer.test.ts) check the equivalence with an independent
 * emulator on crun's program for Docker's default profile and on random programs.
 */

/** One classic BPF instruction (`struct sock_filter`). */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const maxInstructions = 4096;
/** `sizeof(struct seccomp_data)`: what `LD W LEN` gives in a seccomp filter. */
const seccompDataSize = 64;
const memWords = 16;

// Opcodes (linux/filter.h, linux/bpf_common.h).
const LD = 0x00;
const LDX = 0x01;
const ST = 0x02;
const STX = 0x03;
const ALU = 0x04;
const JMP = 0x05;
const RET = 0x06;
const MISC = 0x07;
const ABS = 0x20;
const MEM = 0x60;
const LEN = 0x80;
const X_SRC = 0x08;
const DIV = 0x30;
const LSH = 0x60;
const RSH = 0x70;
const NEG = 0x80;
const MOD = 0x90;
const JA = 0x00;
const JEQ = 0x10;
const JGT = 0x20;
const JGE = 0x30;
const JSET = 0x40;
const RET_A = 0x10;
const TAX = 0x00;
const TXA = 0x80;
/** The ALU operations seccomp allows: not MOD, which classic BPF gained after seccomp's list was written. */
const aluOps = [0x00, 0x10, 0x20, DIV, 0x40, 0x50, LSH, RSH, NEG, 0xa0];

/** The opcodes a seccomp filter may hold (seccomp_check_filter, after its rewrites of LD/LDX W LEN). */
const seccompOpcodes = new Set<number>([
  RET,
  RET | RET_A,
  LD | ABS,
  LD | LEN,
  LDX | LEN,
  LD,
  LDX,
  LD | MEM,
  LDX | MEM,
  ST,
  STX,
  MISC | TAX,
  MISC | TXA,
  JMP | JA,
  ...[JEQ, JGT, JGE, JSET].flatMap((op) => [JMP | op, JMP | op | X_SRC]),
  ...aluOps.flatMap((op) => (op === NEG ? [ALU | NEG] : [ALU | op, ALU | op | X_SRC])),
]);

/** Decode a program (host byte order, little-endian here: x86-64 and arm64). */
export function decodeBpf(program: Buffer): BpfInstruction[] {
  const out: BpfInstruction[] = [];
  for (let at = 0; at + 8 <= program.length; at += 8) {
    out.push({ code: program.readUInt16LE(at), jt: program[at + 2], jf: program[at + 3], k: program.readUInt32LE(at + 4) });
  }
  return out;
}

export function encodeBpf(insns: readonly BpfInstruction[]): Buffer {
  const out = Buffer.alloc(insns.length * 8);
  insns.forEach((insn, i) => {
    out.writeUInt16LE(insn.code, i * 8);
    out[i * 8 + 2] = insn.jt;
    out[i * 8 + 3] = insn.jf;
    out.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return out;
}

/**
 * Why the kernel would refuse `insns` as a seccomp filter, or undefined when it would
 * load it: seccomp_check_filter (the opcode subset, `LD W ABS` inside `seccomp_data` and
 * 4-byte aligned) and bpf_check_classic (lengths, jump targets inside the program,
 * constant divisors and shifts, scratch words written before they are read as its
 * path-insensitive pass sees it, a `ret` last).
 */
export function seccompFilterError(insns: readonly BpfInstruction[]): string | undefined {
  const n = insns.length;
  if (n === 0 || n > maxInstructions) return `${n} instructions (1 to ${maxInstructions})`;
  for (let pc = 0; pc < n; pc++) {
    const { code, jt, jf, k } = insns[pc];
    if (!seccompOpcodes.has(code)) return `opcode 0x${code.toString(16)} at ${pc} is not allowed in seccomp`;
    if (code === (LD | ABS) && (k >= seccompDataSize || k % 4 !== 0)) return `load of offset ${k} at ${pc}`;
    const cls = code & 7;
    if (cls === ALU && (code & X_SRC) === 0) {
      const op = code & 0xf0;
      if ((op === DIV || op === MOD) && k === 0) return `division by zero at ${pc}`;
      if ((op === LSH || op === RSH) && k >= 32) return `shift by ${k} at ${pc}`;
    }
    if ((code === (LD | MEM) || code === (LDX | MEM) || code === ST || code === STX) && k >= memWords) return `scratch word ${k} at ${pc}`;
    if (code === (JMP | JA)) {
      if (k >= n - pc - 1) return `jump out of the program at ${pc}`;
    } else if (cls === JMP && (pc + jt + 1 >= n || pc + jf + 1 >= n)) return `jump out of the program at ${pc}`;
  }
  if ((insns[n - 1].code & 7) !== RET) return 'the last instruction is not a return';
  // check_load_and_stores: which scratch words are written, in program order; a jump
  // narrows its targets' sets and resets the running set, nothing else does (not a ret).
  const masks = new Array<number>(n).fill(0xffff);
  let valid = 0;
  for (let pc = 0; pc < n; pc++) {
    valid &= masks[pc];
    const { code, jt, jf, k } = insns[pc];
    if (code === ST || code === STX) valid |= 1 << k;
    else if (code === (LD | MEM) || code === (LDX | MEM)) {
      if (!(valid & (1 << k))) return `scratch word ${k} read before written at ${pc}`;
    } else if (code === (JMP | JA)) {
      masks[pc + 1 + k] &= valid;
      valid = 0xffff;
    } else if ((code & 7) === JMP) {
      masks[pc + 1 + jt] &= valid;
      masks[pc + 1 + jf] &= valid;
      valid = 0xffff;
    }
  }
  return undefined;
}

/** Raised inside the optimizer when it cannot prove a rewrite; the input is then returned. */
class Unoptimizable extends Error {}

// Abstract values: a constant is its own number (0 ... 2^32-1); the others are tags.
const NR = -1; // exactly seccomp_data.nr
const ARCH = -2; // exactly seccomp_data.arch
const LIVE = -3; // held in the real register or scratch word at run time
const UNSET = -4; // a scratch word never written
type Val = number;
/** A (0), X (1), M[0..15] (2..17). */
type State = Val[];

function aluFold(op: number, a: number, b: number): number {
  switch (op) {
    case 0x00:
      return (a + b) >>> 0;
    case 0x10:
      return (a - b) >>> 0;
    case 0x20:
      return Math.imul(a, b) >>> 0;
    case DIV:
      return Math.floor(a / b) >>> 0;
    case MOD:
      return (a % b) >>> 0;
    case 0x40:
      return (a | b) >>> 0;
    case 0x50:
      return (a & b) >>> 0;
    case LSH:
      return (a << b) >>> 0;
    case RSH:
      return a >>> b;
    case 0xa0:
      return (a ^ b) >>> 0;
    case NEG:
      return -a >>> 0;
  }
  throw new Unoptimizable(`ALU op 0x${op.toString(16)}`);
}

function jumpTaken(op: number, a: number, b: number): boolean {
  if (op === JEQ) return a === b;
  if (op === JGT) return a > b;
  if (op === JGE) return a >= b;
  return (a & b) !== 0;
}

/**
 * Pass 1: the constants the architecture is compared against, over every path (both
 * ways at each jump that is not decided by constants). Throws Unoptimizable for any use
 * of the number or the architecture but a comparison with a constant.
 */
function collectBoundaries(insns: readonly BpfInstruction[], budget: { steps: number }) {
  const arch = new Set<number>([0]);
  const archConstants = new Set<number>();
  const seen = new Set<string>();
  const note = (tag: Val, c: number) => {
    if (tag !== ARCH) return;
    archConstants.add(c);
    arch.add(c);
    if (c < 0xffffffff) arch.add(c + 1);
  };
  const stack: Array<{ pc: number; st: State }> = [{ pc: 0, st: initialState() }];
  while (stack.length > 0) {
    let { pc, st } = stack.pop()!;
    const key = `${pc}|${st.join(',')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    for (;;) {
      if (--budget.steps < 0) throw new Unoptimizable('work budget');
      const { code, jt, jf, k } = insns[pc];
      const cls = code & 7;
      if (cls === RET) break;
      if (cls === JMP) {
        const jump = classifyJump(pc, insns[pc], st);
        if ('to' in jump) {
          pc = jump.to;
          continue;
        }
        if ('tag' in jump) note(jump.tag, jump.constant);
        // decided by run-time data, or by the number or architecture: both ways
        stack.push({ pc: pc + 1 + jt, st: [...st] });
        pc += 1 + jf;
        continue;
      }
      st = step(st, code, k, pc);
      if (st.length === 0) break; // division by a zero X: the program returns 0 here
      pc++;
    }
  }
  return { arch: [...arch].sort((x, y) => x - y), archConstants: archConstants.size > 0 ? [...archConstants] : [0] };
}

/**
 * What a jump does on the abstract state, for both passes: `to`, the next pc, when
 * constants decide it; `tag`, the number or the architecture compared with `constant`
 * (`constantLeft`: it is A); or `dynamic`, run-time data on one side at least (`b`: the
 * other side, a constant or not). Throws Unoptimizable for any other use of the number
 * or the architecture (a `jset` on it, a comparison with anything but a constant).
 */
function classifyJump(
  pc: number,
  { code, jt, jf, k }: BpfInstruction,
  st: State,
): { to: number } | { tag: Val; constant: number; constantLeft: boolean } | { dynamic: true; b: Val } {
  const op = code & 0xf0;
  if (op === JA) return { to: pc + 1 + k };
  const a = st[0];
  const b = code & X_SRC ? st[1] : k;
  if (a >= 0 && b >= 0) return { to: pc + 1 + (jumpTaken(op, a, b) ? jt : jf) };
  if (a === NR || a === ARCH || b === NR || b === ARCH) {
    if (op === JSET) throw new Unoptimizable('jset on the syscall number or architecture');
    if (a < 0 && b < 0) throw new Unoptimizable('the syscall number or architecture compared with a non-constant');
    return a < 0 ? { tag: a, constant: b, constantLeft: false } : { tag: b, constant: a, constantLeft: true };
  }
  return { dynamic: true, b };
}

function initialState(): State {
  const st = new Array<Val>(2 + memWords).fill(UNSET);
  st[0] = 0;
  st[1] = 0;
  return st;
}

/** Pass 1's effect of a non-jump, non-ret instruction on the abstract state (a new state; [] = returns 0). */
function step(st: State, code: number, k: number, pc: number): State {
  const next = [...st];
  const cls = code & 7;
  if (cls === LD || cls === LDX) {
    const r = cls === LD ? 0 : 1;
    const mode = code & 0xe0;
    if (mode === ABS) next[0] = k === 0 ? NR : k === 4 ? ARCH : LIVE;
    else if (mode === LEN) next[r] = seccompDataSize;
    else if (mode === MEM) {
      if (st[2 + k] === UNSET) throw new Unoptimizable(`scratch word ${k} read before written at ${pc}`);
      next[r] = st[2 + k];
    } else next[r] = k;
  } else if (cls === ST || cls === STX) next[2 + k] = st[cls === ST ? 0 : 1];
  else if (cls === MISC) {
    if ((code & 0xf8) === TXA) next[0] = st[1];
    else next[1] = st[0];
  } else if (cls === ALU) {
    const op = code & 0xf0;
    const a = st[0];
    const b = op === NEG ? 0 : code & X_SRC ? st[1] : k;
    if (a === NR || a === ARCH || b === NR || b === ARCH) throw new Unoptimizable('arithmetic on the syscall number or architecture');
    if ((op === DIV || op === MOD) && b === 0) return [];
    next[0] = a >= 0 && b >= 0 && !((op === LSH || op === RSH) && b >= 32) ? aluFold(op, a, b) : LIVE;
  }
  return next;
}

// The graph of the new program: hash-consed nodes.
interface RetNode {
  kind: 'ret';
  code: number;
  k: number;
}
interface InsNode {
  kind: 'ins';
  code: number;
  k: number;
  next: number;
}
interface JmpNode {
  kind: 'jmp';
  code: number;
  k: number;
  t: number;
  f: number;
}
type Node = RetNode | InsNode | JmpNode;

/**
 * The new program as a graph of instructions (a DAG: every jump goes forward), nodes
 * hash-consed so that identical code for different intervals is one node, laid out once.
 */
class Graph {
  readonly nodes: Node[] = [];
  private readonly ids = new Map<string, number>();
  constructor(private readonly maxNodes: number) {}

  private add(key: string, node: Node): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      if (this.nodes.length >= this.maxNodes) throw new Unoptimizable('too many nodes');
      id = this.nodes.length;
      this.nodes.push(node);
      this.ids.set(key, id);
    }
    return id;
  }
  ret(code: number, k: number): number {
    return this.add(`r${code},${k}`, { kind: 'ret', code, k: code === RET ? k : 0 });
  }
  ins(code: number, k: number, next: number): number {
    return this.add(`i${code},${k},${next}`, { kind: 'ins', code, k, next });
  }
  jmp(code: number, k: number, t: number, f: number): number {
    if (t === f) return t;
    return this.add(`j${code},${k},${t},${f}`, { kind: 'jmp', code, k, t, f });
  }
  /** A binary search over `ranges` (sorted, covering 0..2^32-1) of the value in A. */
  search(ranges: Array<{ lo: number; node: number }>): number {
    if (ranges.length === 1) return ranges[0].node;
    const mid = ranges.length >> 1;
    return this.jmp(JMP | JGE, ranges[mid].lo, this.search(ranges.slice(mid)), this.search(ranges.slice(0, mid)));
  }
}

/** The code of a program for the syscall numbers lo..hi: a node of the graph. */
interface Piece {
  lo: number;
  hi: number;
  node: number;
}

/**
 * Pass 2: the program's code for architectures in `arch` (an interval of pass 1), as
 * pieces covering every syscall number: evaluated with the number an interval, which a
 * comparison that does not decide the same way everywhere in it splits (at its constant
 * and the next value), each part evaluated on from there.
 */
class PartialEvaluator {
  private readonly memo = new Map<string, Piece[]>();
  constructor(
    private readonly insns: readonly BpfInstruction[],
    private readonly graph: Graph,
    private readonly arch: [number, number],
    private readonly budget: { steps: number },
  ) {}

  run(): Piece[] {
    return this.eval(0, initialState(), 0, 0xffffffff);
  }

  /**
   * How a comparison of every value in [lo, hi] with constant c (the value on the left
   * unless `reversed`) goes, or undefined when not the same way for all of them.
   */
  private static decide(op: number, c: number, reversed: boolean, lo: number, hi: number): boolean | undefined {
    const low = reversed ? jumpTaken(op, c, lo) : jumpTaken(op, lo, c);
    const high = reversed ? jumpTaken(op, c, hi) : jumpTaken(op, hi, c);
    const inside = op === JEQ && lo < c && c < hi;
    return low !== high || inside ? undefined : low;
  }

  private eval(startPc: number, start: State, startLo: number, startHi: number): Piece[] {
    const key = `${startPc}|${startLo}|${startHi}|${start.join(',')}`;
    const known = this.memo.get(key);
    if (known !== undefined) return known;
    const st = [...start];
    const emitted: Array<[number, number]> = [];
    const emit = (code: number, k: number) => emitted.push([code, k]);
    const materializeA = () => {
      const a = st[0];
      if (a === LIVE) return;
      if (a === NR) emit(LD | ABS, 0);
      else if (a === ARCH) emit(LD | ABS, 4);
      else emit(LD, a);
      st[0] = LIVE;
    };
    const materializeX = () => {
      const x = st[1];
      if (x === LIVE) return;
      if (x < 0) throw new Unoptimizable('the syscall number or architecture needed in X');
      emit(LDX, x);
      st[1] = LIVE;
    };
    let pc = startPc;
    let lo = startLo;
    const hi = startHi;
    // The numbers split off below lo, each with how much of `emitted` runs before them.
    const groups: Array<{ pieces: Piece[]; prefix: number }> = [];
    let pieces: Piece[];
    const one = (node: number): Piece[] => [{ lo, hi, node }];
    for (;;) {
      if (--this.budget.steps < 0) throw new Unoptimizable('work budget');
      const { code, jt, jf, k } = this.insns[pc];
      const cls = code & 7;
      if (cls === RET) {
        if (code === RET) pieces = one(this.graph.ret(RET, k));
        else if (st[0] >= 0) pieces = one(this.graph.ret(RET, st[0]));
        else {
          materializeA();
          pieces = one(this.graph.ret(RET | RET_A, 0));
        }
        break;
      }
      if (cls === JMP) {
        const op = code & 0xf0;
        const jump = classifyJump(pc, this.insns[pc], st);
        if ('to' in jump) {
          pc = jump.to;
          continue;
        }
        if ('tag' in jump) {
          const { tag, constant: c } = jump;
          const [tagLo, tagHi] = tag === NR ? [lo, hi] : this.arch;
          const taken = PartialEvaluator.decide(op, c, jump.constantLeft, tagLo, tagHi);
          if (taken !== undefined) {
            pc += 1 + (taken ? jt : jf);
            continue;
          }
          if (tag === ARCH) throw new Unoptimizable('an architecture comparison not decided on its interval');
          // Split the numbers where this comparison changes its mind (at c and c + 1): the
          // lower parts evaluated on their own, the highest goes on here (a chain of tests
          // in increasing order then walks the program once).
          const starts = [lo, ...[c, c + 1].filter((x) => x > lo && x <= hi)];
          for (let i = 0; i + 1 < starts.length; i++) {
            groups.push({ pieces: this.eval(pc, st, starts[i], starts[i + 1] - 1), prefix: emitted.length });
          }
          lo = starts[starts.length - 1];
          continue;
        }
        // Run-time data on one side at least: both ways, as residual code.
        const { b } = jump;
        let jcode: number;
        let jk = 0;
        if (b >= 0) {
          jcode = JMP | op; // A is live, the other side a constant
          jk = b;
        } else {
          materializeA();
          jcode = JMP | op | X_SRC;
        }
        const t = this.eval(pc + 1 + jt, st, lo, hi);
        const f = this.eval(pc + 1 + jf, st, lo, hi);
        pieces = [];
        // both sides' pieces over the same numbers: a jump per overlap
        for (let i = 0, j = 0, from = lo; i < t.length && j < f.length; ) {
          const to = Math.min(t[i].hi, f[j].hi);
          pieces.push({ lo: from, hi: to, node: this.graph.jmp(jcode, jk, t[i].node, f[j].node) });
          from = to + 1;
          if (t[i].hi === to) i++;
          if (f[j].hi === to) j++;
        }
        break;
      }
      if (cls === LD || cls === LDX) {
        const r = cls === LD ? 0 : 1;
        const mode = code & 0xe0;
        if (mode === ABS) {
          if (k === 0) st[0] = NR;
          else if (k === 4) st[0] = ARCH;
          else {
            emit(code, k);
            st[0] = LIVE;
          }
        } else if (mode === LEN) st[r] = seccompDataSize;
        else if (mode === MEM) {
          const v = st[2 + k];
          if (v === UNSET) throw new Unoptimizable(`scratch word ${k} read before written`);
          if (v === LIVE) emit(code, k);
          st[r] = v;
        } else st[r] = k;
      } else if (cls === ST || cls === STX) {
        const v = st[cls === ST ? 0 : 1];
        if (v === LIVE) emit(code, k);
        st[2 + k] = v;
      } else if (cls === MISC) {
        const [from, to] = (code & 0xf8) === TXA ? [1, 0] : [0, 1];
        if (st[from] === LIVE) emit(code, 0);
        st[to] = st[from];
      } else {
        // ALU
        const op = code & 0xf0;
        const a = st[0];
        const b = op === NEG ? 0 : code & X_SRC ? st[1] : k;
        if (a === NR || a === ARCH || b === NR || b === ARCH) throw new Unoptimizable('arithmetic on the syscall number or architecture');
        const shift = op === LSH || op === RSH;
        if ((op === DIV || op === MOD) && b === 0) {
          pieces = one(this.graph.ret(RET, 0)); // a division by X = 0 ends the program with 0
          break;
        }
        if (a >= 0 && b >= 0 && !(shift && b >= 32)) st[0] = aluFold(op, a, b);
        else {
          if (op === NEG)
            emit(code, 0); // A is live: a constant would have folded
          else if (b >= 0 && !(shift && b >= 32)) {
            materializeA();
            emit(ALU | op, b); // X's known value as the constant operand
          } else {
            materializeA();
            materializeX();
            emit(ALU | op | X_SRC, 0);
          }
          st[0] = LIVE;
        }
      }
      pc++;
    }
    // What was emitted before a piece was split off runs first in that piece.
    groups.push({ pieces, prefix: emitted.length });
    const out: Piece[] = [];
    for (const group of groups) {
      for (const piece of group.pieces) {
        let node = piece.node;
        for (let i = group.prefix - 1; i >= 0; i--) node = this.graph.ins(emitted[i][0], emitted[i][1], node);
        out.push(group.prefix === 0 ? piece : { ...piece, node });
      }
    }
    this.memo.set(key, out);
    return out;
  }
}

/** Lay the graph out from `root`, backwards, so that every jump goes forward. */
function layOut(graph: Graph, root: number): BpfInstruction[] {
  const out: BpfInstruction[] = []; // reversed: out[0] is the last instruction
  const placed = new Map<number, number>();
  const retAt = new Map<number, number>(); // the latest copy of each ret node
  const push = (insn: BpfInstruction) => {
    out.push(insn);
    if (out.length > maxInstructions) throw new Unoptimizable('past 4096 instructions');
    return out.length - 1;
  };
  const place = (id: number): number => {
    const node = graph.nodes[id];
    if (node.kind === 'ret') {
      const at = push({ code: node.code, jt: 0, jf: 0, k: node.k });
      retAt.set(id, at);
      return at;
    }
    const known = placed.get(id);
    if (known !== undefined) return known;
    let at: number;
    if (node.kind === 'ins') {
      const next = graph.nodes[node.next].kind === 'ret' ? retAt.get(node.next) : placed.get(node.next);
      if (next === undefined) place(node.next);
      else if (next !== out.length - 1) {
        if (graph.nodes[node.next].kind === 'ret') place(node.next);
        else push({ code: JMP | JA, jt: 0, jf: 0, k: out.length - next - 1 });
      }
      at = push({ code: node.code, jt: 0, jf: 0, k: node.k });
    } else {
      for (const child of [node.t, node.f]) {
        if (graph.nodes[child].kind !== 'ret' && !placed.has(child)) place(child);
      }
      // A ret target: the latest copy if near, else a new copy (as cheap as a trampoline).
      const reach = (child: number): number => {
        const isRet = graph.nodes[child].kind === 'ret';
        const at = isRet ? retAt.get(child) : placed.get(child);
        if (at !== undefined && out.length - at - 1 <= 253) return at;
        if (isRet) return place(child);
        return push({ code: JMP | JA, jt: 0, jf: 0, k: out.length - at! - 1 });
      };
      const f = reach(node.f);
      const t = reach(node.t);
      at = out.length;
      if (at - t - 1 > 255 || at - f - 1 > 255) throw new Unoptimizable('layout');
      push({ code: node.code, jt: at - t - 1, jf: at - f - 1, k: node.k });
    }
    placed.set(id, at);
    return at;
  };
  place(root);
  return out.reverse();
}

/**
 * An estimate of what loading `insns` costs, in instructions the kernel's action cache
 * walks when it fills in: the program run for each architecture of `archs` and syscall
 * numbers 0-511 (the kernel emulates its native and compat architectures' numbers, some
 * 450 each on x86-64), until a `ret` or a load of anything but the number or the
 * architecture (where its emulation gives up), plus 30 per instruction of length for the
 * checker and the JIT (measured on x86-64: some 0.1 µs per instruction against 3-4 ns
 * per emulated step).
 */
export function seccompLoadCost(insns: readonly BpfInstruction[], archs: readonly number[]): number {
  let steps = 30 * insns.length;
  for (const arch of archs) {
    for (let n = 0; n < 512; n++) steps += walk(insns, n, arch);
  }
  return steps;
}

function walk(insns: readonly BpfInstruction[], nr: number, arch: number): number {
  let a = 0;
  let x = 0;
  const m = new Array<number>(memWords).fill(0);
  let steps = 0;
  for (let pc = 0; pc < insns.length; pc++) {
    steps++;
    const { code, jt, jf, k } = insns[pc];
    const cls = code & 7;
    if (cls === RET) return steps;
    if (cls === LD || cls === LDX) {
      const mode = code & 0xe0;
      let v: number;
      if (mode === ABS) {
        if (k !== 0 && k !== 4) return steps;
        v = k === 0 ? nr : arch;
      } else if (mode === LEN) v = seccompDataSize;
      else if (mode === MEM) v = m[k];
      else v = k;
      if (cls === LD) a = v;
      else x = v;
    } else if (cls === ST) m[k] = a;
    else if (cls === STX) m[k] = x;
    else if (cls === MISC) {
      if ((code & 0xf8) === TXA) a = x;
      else x = a;
    } else if (cls === ALU) {
      const op = code & 0xf0;
      const b = code & X_SRC ? x : k;
      if ((op === DIV || op === MOD) && b === 0) return steps;
      a = op === LSH || op === RSH ? aluFold(op, a, b & 31) : aluFold(op, a, b);
    } else if (cls === JMP) {
      const op = code & 0xf0;
      if (op === JA) pc += k;
      else pc += jumpTaken(op, a, code & X_SRC ? x : k) ? jt : jf;
    }
  }
  return steps;
}

/** The work allowed per program (abstract steps), and the graph's size. */
const stepBudget = 20_000_000;
const nodeBudget = 50_000;

/**
 * An exactly equivalent seccomp program that the kernel loads cheaply, or `program`
 * itself when that cannot be proven or would not be cheaper (see the file's comment).
 * Never throws: a program the kernel would refuse is returned as it is.
 */
export function optimizeSeccompProgram(program: Buffer): Buffer {
  if (program.length % 8 !== 0) return program;
  const insns = decodeBpf(program);
  if (seccompFilterError(insns) !== undefined) return program;
  try {
    const optimized = optimizedInstructions(insns);
    if (!optimized) return program;
    return encodeBpf(optimized);
  } catch (err) {
    if (err instanceof Unoptimizable) return program;
    throw err;
  }
}

function optimizedInstructions(insns: readonly BpfInstruction[]): BpfInstruction[] | undefined {
  const budget = { steps: stepBudget };
  const bounds = collectBoundaries(insns, budget);
  const graph = new Graph(nodeBudget);
  const intervals = (cuts: number[]) => cuts.map((lo, i) => [lo, i + 1 < cuts.length ? cuts[i + 1] - 1 : 0xffffffff] as [number, number]);
  const archRanges: Array<{ lo: number; node: number }> = [];
  for (const archIv of intervals(bounds.arch)) {
    const nrRanges: Array<{ lo: number; node: number }> = [];
    for (const { lo, node } of new PartialEvaluator(insns, graph, archIv, budget).run()) {
      if (nrRanges.length === 0 || nrRanges[nrRanges.length - 1].node !== node) nrRanges.push({ lo, node });
    }
    const node = nrRanges.length === 1 ? nrRanges[0].node : graph.ins(LD | ABS, 0, graph.search(nrRanges));
    if (archRanges.length === 0 || archRanges[archRanges.length - 1].node !== node) archRanges.push({ lo: archIv[0], node });
  }
  const root = archRanges.length === 1 ? archRanges[0].node : graph.ins(LD | ABS, 4, graph.search(archRanges));
  const out = layOut(graph, root);
  if (seccompFilterError(out) !== undefined) return undefined;
  if (seccompLoadCost(out, bounds.archConstants) >= seccompLoadCost(insns, bounds.archConstants)) return undefined;
  return out;
}
