/**
 * What must hold of a container, from the last operation on it the client saw succeed:
 *
 * - `created`: `docker create` returned and nothing started it since: it exists, not running;
 * - `running`: a start of a command that runs until stopped returned: it exists and runs
 *   (containers outlive berthd, so a crash changes nothing);
 * - `exists`: it was started with a command that ends by itself: it exists, in any state;
 * - `stopped`: `docker stop`/`kill` returned: it exists and does not run;
 * - `gone`: `docker rm -f` or a foreground `run --rm` returned, or it was seen absent
 *   after its fate was unknown: it never appears again;
 * - `transient`: `run -d --rm` of a short command: it goes by itself (the generic `--rm`
 *   invariant checks it), so nothing is expected until it is seen;
 * - `unknown`: an operation on it was in flight when berthd was killed, or failed in a
 *   way that says nothing: the next check learns its state from what berthd reports.
 */
export type ContainerExpect = 'created' | 'running' | 'exists' | 'stopped' | 'gone' | 'transient' | 'unknown';

export interface ContainerFact {
  name: string;
  /** Known once an operation printed it or a check saw it. */
  id?: string;
  image: string;
  autoRemove: boolean;
  /** Its command runs until it is stopped. */
  longRunning: boolean;
  expect: ContainerExpect;
  /** The acknowledged operation that set `expect` (for the report). */
  because: string;
  /** A worker is operating on it. */
  busy: boolean;
}

/** `present`: a tag, load or import that made it returned; `gone`: an rmi of it returned. */
export type TagExpect = 'present' | 'gone' | 'unknown';

export interface TagFact {
  /** As given to docker: `crash/t3:v1`, `crashload/img0:v1`. */
  ref: string;
  /** The image it names when present. */
  imageId: string;
  expect: TagExpect;
  because: string;
  busy: boolean;
}

/**
 * The client's side of the story: every container and tag the workload made, and what
 * the operations it saw succeed say must be true of them now. The invariants hold berthd
 * to it after every restart; an outcome the client never saw is learnt at the next check
 * (`unknown` → what berthd reports), and from then on held too.
 */
export class Ledger {
  readonly containers = new Map<string, ContainerFact>();
  readonly tags = new Map<string, TagFact>();
  /**
   * Images an operation may legitimately have left without a name: the image a tag was
   * moved away from, the image of an `rmi -f` that containers use. Added when such an
   * operation starts (a kill may cut it after its effect). Any other image without a name
   * is what a cut-short load or import (or rmi) left: a violation.
   */
  readonly mayBeUnnamed = new Set<string>();
  private nextName = 0;
  private nextTag = 0;

  constructor(readonly busyboxId: string) {}

  newContainerName(): string {
    return `crash-c${this.nextName++}`;
  }

  newTagNumber(): number {
    return this.nextTag++;
  }

  addContainer(fact: Omit<ContainerFact, 'busy'>): ContainerFact {
    const full = { ...fact, busy: true };
    this.containers.set(fact.name, full);
    return full;
  }

  /** Containers a new operation may take, matching `want`. */
  idleContainers(want: (c: ContainerFact) => boolean): ContainerFact[] {
    return [...this.containers.values()].filter((c) => !c.busy && c.expect !== 'gone' && want(c));
  }

  /** Containers berthd may still hold. */
  liveCount(): number {
    return [...this.containers.values()].filter((c) => c.expect !== 'gone').length;
  }

  /** Images a new container or tag may use: busybox and the tags expected present. */
  usableImages(): Array<{ ref: string; id: string }> {
    const out = [{ ref: 'busybox:latest', id: this.busyboxId }];
    for (const t of this.tags.values()) if (t.expect === 'present' && !t.busy) out.push({ ref: t.ref, id: t.imageId });
    return out;
  }

  setTag(ref: string, imageId: string, expect: TagExpect, because: string): TagFact {
    const existing = this.tags.get(ref);
    if (existing) {
      existing.imageId = imageId;
      existing.expect = expect;
      existing.because = because;
      return existing;
    }
    const fact = { ref, imageId, expect, because, busy: false };
    this.tags.set(ref, fact);
    return fact;
  }
}
