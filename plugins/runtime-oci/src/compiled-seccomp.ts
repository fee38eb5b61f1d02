import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { optimizeSeccompProgram } from './seccomp-optimizer.js';

/** crun's annotation for a seccomp program given ready made (base64 of the raw BPF). */
export const seccompBpfAnnotation = 'run.oci.seccomp_bpf_data';

/** The kernel's limit: 4096 BPF instructions of 8 bytes. */
const maxProgramBytes = 4096 * 8;

/**
 * The seccomp programs crun compiled, so that it compiles each profile once per daemon
 * rather than once per container.
 *
 * crun compiles a bundle's `linux.seccomp` profile into BPF with libseccomp at every
 * create: Docker's default profile (some 300 syscalls) costs about 5 ms of the 20-25 ms a
 * create takes on a 2-core machine. crun writes the program it loaded into the
 * container's state (`<root>/<id>/seccomp.bpf`, which its `exec` loads again), and it
 * takes a program ready made from the annotation `run.oci.seccomp_bpf_data`, ignoring
 * the profile then. So the first container with a profile is created as usual and its
 * program learnt from its state; later creates with the same profile get the annotation.
 *
 * Only programs crun compiled itself are learnt (never one that came in an annotation),
 * keyed by the profile's JSON and the identity of the crun binary (path, size, mtime: an
 * upgraded crun, or libseccomp with it, compiles again). Profiles that need crun's
 * run-time handling (a notify listener, `SCMP_ACT_NOTIFY`) are never cached. Kept in
 * memory only: a restarted daemon learns again, and no file can stand in for a program.
 *
 * What is kept is the program rewritten by `optimized` (seccomp-optimizer.ts: the same
 * decisions, a binary search the kernel loads in a tenth of the time), so later
 * containers, and their execs, which load crun's `seccomp.bpf` of their own, load that.
 */
export class CompiledSeccompCache {
  private readonly programs = new Map<string, string>();

  constructor(
    private readonly binary: string,
    private readonly optimized: OptimizedSeccompPrograms,
    private readonly maxEntries = 32,
  ) {}

  /** The key of a profile, or undefined for one that must always be compiled by crun. */
  keyOf(profile: unknown): string | undefined {
    if (!profile || typeof profile !== 'object') return undefined;
    const json = JSON.stringify(profile);
    if (json.includes('SCMP_ACT_NOTIFY') || json.includes('listenerPath')) return undefined;
    let identity: string;
    try {
      const st = statSync(this.binary);
      identity = `${this.binary}\0${st.size}\0${st.mtimeMs}`;
    } catch {
      return undefined;
    }
    return createHash('sha256').update(identity).update('\0').update(json).digest('hex');
  }

  /** The base64 program learnt for `key`, if any. */
  lookup(key: string): string | undefined {
    return this.programs.get(key);
  }

  /**
   * Learn the program crun compiled and loaded for container `id` (just created from a
   * bundle with the profile of `key` and no annotation), optimized. A file that is not a
   * plausible BPF program (empty, not whole instructions, past the kernel's limit) is not
   * learnt.
   */
  learn(key: string, stateRoot: string, id: string): void {
    let program: Buffer;
    try {
      program = readFileSync(path.join(stateRoot, id, 'seccomp.bpf'));
    } catch {
      return;
    }
    if (program.length === 0 || program.length % 8 !== 0 || program.length > maxProgramBytes) return;
    if (this.programs.size >= this.maxEntries) this.programs.delete(this.programs.keys().next().value!);
    this.programs.set(key, this.optimized.optimize(program).toString('base64'));
  }
}

/**
 * Optimized seccomp programs (optimizeSeccompProgram), computed once per distinct
 * program and kept in memory, and as files for those who load a program from a path.
 *
 * A direct exec (direct-exec-plan.ts) loads the container's program from a file: crun's
 * `seccomp.bpf` in its state, which for the first container of a profile is crun's own
 * compiled program (later ones get the optimized one from `CompiledSeccompCache`).
 * `fileFor` gives the path of an optimized copy instead: `<dir>/<sha256 of its content>.bpf`,
 * written once (a temporary file renamed into place, so a reader never sees half of
 * one; after a crash at most a `.tmp-<pid>` file is left, removed at the next start),
 * in a directory of the plugin's exec root that dies with the host, as crun's state does.
 * Files are never removed while the daemon runs: one per distinct program, a few KiB.
 * Kept in memory: the last `maxEntries` programs seen.
 */
export class OptimizedSeccompPrograms {
  /** sha256 of a program → its optimized form (the same Buffer when nothing was gained). */
  private readonly programs = new Map<string, Buffer>();
  /** sha256 of a program → the file of its optimized form. */
  private readonly files = new Map<string, string>();
  private dirReady = false;

  constructor(
    private readonly dir: string,
    private readonly maxEntries = 64,
  ) {}

  /** `program` optimized (memoized by content; an optimized program maps to itself). */
  optimize(program: Buffer): Buffer {
    const hash = sha256(program);
    let out = this.programs.get(hash);
    if (!out) {
      out = optimizeSeccompProgram(program);
      this.remember(this.programs, hash, out);
      if (out !== program) this.remember(this.programs, sha256(out), out);
    }
    return out;
  }

  /**
   * The path of an optimized copy of the program in `file`; `file` itself when
   * optimizing gains nothing or the copy cannot be written; undefined when `file`
   * cannot be read.
   */
  fileFor(file: string): string | undefined {
    let program: Buffer;
    try {
      program = readFileSync(file);
    } catch {
      return undefined;
    }
    const hash = sha256(program);
    const known = this.files.get(hash);
    if (known) return known;
    const out = this.optimize(program);
    if (out === program || out.equals(program)) return file;
    try {
      const target = path.join(this.dir, `${sha256(out)}.bpf`);
      this.prepareDir();
      const temporary = `${target}.tmp-${process.pid}`;
      writeFileSync(temporary, out, { mode: 0o600 });
      renameSync(temporary, target);
      this.remember(this.files, hash, target);
      return target;
    } catch {
      return file; // no copy: the program as it is still serves
    }
  }

  private prepareDir(): void {
    if (this.dirReady) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(this.dir)) {
      if (name.includes('.tmp-')) rmSync(path.join(this.dir, name), { force: true });
    }
    this.dirReady = true;
  }

  private remember<T>(map: Map<string, T>, key: string, value: T): void {
    if (map.size >= this.maxEntries && !map.has(key)) map.delete(map.keys().next().value!);
    map.set(key, value);
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
