import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

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
 */
export class CompiledSeccompCache {
  private readonly programs = new Map<string, string>();

  constructor(
    private readonly binary: string,
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
   * bundle with the profile of `key` and no annotation). A file that is not a plausible
   * BPF program (empty, not whole instructions, past the kernel's limit) is not learnt.
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
    this.programs.set(key, program.toString('base64'));
  }
}
