import { sleep } from '../e2e/harness';
import type { CrashDaemon } from './crash-daemon';
import type { CrashFixtures } from './fixtures';
import type { ContainerFact, Ledger, TagFact } from './ledger';
import type { Random } from './random';

/** The operations the workload mixes, with their weights. */
const weights = {
  create: 10,
  start: 10,
  runDetached: 12,
  runRm: 10,
  runDetachedRm: 6,
  stop: 6,
  kill: 6,
  rmForce: 12,
  load: 5,
  tag: 6,
  rmi: 5,
  rmiForce: 3,
  retag: 4,
  import: 5,
  rmRacingExit: 5,
  prune: 3,
};
export type OperationKind = keyof typeof weights;

/** More containers than this and the workload removes rather than makes. */
const maxLiveContainers = 14;

/** An operation in flight, for the report of a kill. */
export interface InFlight {
  kind: OperationKind;
  args: string[];
  startedAt: number;
}

/** A failure that was neither a refusal the workload expects nor caused by a kill. */
export interface UnexpectedFailure {
  kind: OperationKind;
  args: string[];
  stderr: string;
}

// A CLI that lost berthd mid-request, or never reached it.
const lostDaemon =
  /Cannot connect to the Docker daemon|connection reset|unexpected EOF|\bEOF\b|broken pipe|error during connect|connection refused|i\/o timeout/i;
// Refusals a racing workload provokes and berthd is right to give.
const expectedRefusal =
  /is not running|No such container|No such image|conflict|is already in use|is already running|removal of container .* is already in progress|cannot (start|kill) a container that has stopped|is restarting|is being used/i;

/**
 * A mixed, concurrent workload through the real docker CLI: `workers` loops, each picking
 * an operation (create, start, run -d, run --rm, run -d --rm, stop, kill, rm -f, load,
 * tag, retag, rmi, rmi -f, import, image prune) and its subject at random, never two operations on one container or
 * tag at once. Every outcome goes into the ledger: a success sets what must now be true,
 * a failure caused by a kill (the CLI lost berthd, or a kill happened during the call)
 * makes the subject `unknown` until the next check.
 *
 * Lifecycle: `start()` → (`pause()` → kill, restart, check → `resume()`)* → `stop()`.
 * `pause()` waits for the operations in flight to finish (after a kill they fail fast).
 */
export class Workload {
  /** Bumped by the campaign at every kill: an operation that saw it change was cut by a crash. */
  crashes = 0;
  readonly inFlight = new Set<InFlight>();
  readonly unexpected: UnexpectedFailure[] = [];
  readonly counts: Record<OperationKind, { ok: number; failed: number }>;
  private paused = false;
  private stopping = false;
  private resumed: (() => void) | undefined;
  private resumeGate: Promise<void> = Promise.resolve();
  private loops: Promise<void>[] = [];
  private idle: Array<() => void> = [];

  constructor(
    private readonly d: CrashDaemon,
    private readonly ledger: Ledger,
    private readonly fixtures: CrashFixtures,
    private readonly random: Random,
    private readonly workers = 3,
  ) {
    this.counts = Object.fromEntries(Object.keys(weights).map((k) => [k, { ok: 0, failed: 0 }])) as Workload['counts'];
  }

  start(): void {
    for (let i = 0; i < this.workers; i++) this.loops.push(this.loop());
  }

  /** Stop starting operations and wait for those in flight. */
  async pause(): Promise<void> {
    if (!this.paused) {
      this.paused = true;
      this.resumeGate = new Promise((resolve) => (this.resumed = resolve));
    }
    while (this.inFlight.size > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  resume(): void {
    this.paused = false;
    this.resumed?.();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.resume();
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      if (this.paused) {
        await this.resumeGate;
        continue;
      }
      const done = await this.one();
      // Nothing to do for the chosen kind (no idle subject): let the others move.
      if (!done) await sleep(20);
    }
  }

  /** Run one operation; false when the chosen kind had no subject. */
  private async one(): Promise<boolean> {
    const l = this.ledger;
    const r = this.random;
    let kind = r.weighted(weights);
    if (l.liveCount() >= maxLiveContainers && ['create', 'runDetached'].includes(kind)) kind = 'rmForce';
    switch (kind) {
      case 'create': {
        const image = r.pick(l.usableImages())!;
        const c = l.addContainer({
          name: l.newContainerName(),
          image: image.ref,
          autoRemove: false,
          longRunning: true,
          expect: 'unknown',
          because: 'create in flight',
        });
        await this.container(kind, c, ['create', '--name', c.name, image.ref, 'sleep', '3600'], (out) => {
          c.id = out.trim();
          return 'created';
        });
        return true;
      }
      case 'runDetached': {
        const image = r.pick(l.usableImages())!;
        const long = r.next() < 0.6;
        const c = l.addContainer({
          name: l.newContainerName(),
          image: image.ref,
          autoRemove: false,
          longRunning: long,
          expect: 'unknown',
          because: 'run -d in flight',
        });
        const cmd = long ? ['sleep', '3600'] : ['sh', '-c', 'sleep 0.3; exit 3'];
        await this.container(kind, c, ['run', '-d', '--name', c.name, image.ref, ...cmd], (out) => {
          c.id = out.trim();
          return long ? 'running' : 'exists';
        });
        return true;
      }
      case 'runRm': {
        const c = l.addContainer({
          name: l.newContainerName(),
          image: 'busybox:latest',
          autoRemove: true,
          longRunning: false,
          expect: 'unknown',
          because: 'run --rm in flight',
        });
        await this.container(kind, c, ['run', '--rm', '--name', c.name, 'busybox', 'true'], () => 'gone');
        return true;
      }
      case 'runDetachedRm': {
        const c = l.addContainer({
          name: l.newContainerName(),
          image: 'busybox:latest',
          autoRemove: true,
          longRunning: false,
          expect: 'unknown',
          because: 'run -d --rm in flight',
        });
        await this.container(kind, c, ['run', '-d', '--rm', '--name', c.name, 'busybox', 'sleep', '0.5'], (out) => {
          c.id = out.trim();
          return 'transient';
        });
        return true;
      }
      case 'rmRacingExit': {
        // rm -f while the container's exit is being recorded: a removal must never be undone
        // by the exit's record being written after it.
        const c = l.addContainer({
          name: l.newContainerName(),
          image: 'busybox:latest',
          autoRemove: false,
          longRunning: false,
          expect: 'unknown',
          because: 'run -d (exits at once) in flight',
        });
        await this.container('runDetached', c, ['run', '-d', '--name', c.name, 'busybox', 'sh', '-c', 'sleep 0.05'], (out) => {
          c.id = out.trim();
          return 'exists';
        });
        if (c.expect !== 'exists') return true;
        // Ours again before anything can be scheduled: no other worker may stop it while
        // we wait (a stop acknowledged after our rm -f would expect it still there).
        c.busy = true;
        await sleep(r.int(0, 80));
        await this.container(kind, c, ['rm', '-f', c.name], () => 'gone');
        return true;
      }
      case 'start':
        return this.onExisting(
          kind,
          (c) => !c.autoRemove && (c.expect === 'created' || c.expect === 'stopped'),
          (c) => ['start', c.name],
          (c) => (c.longRunning ? 'running' : 'exists'),
        );
      case 'stop':
        return this.onExisting(
          kind,
          (c) => c.expect === 'running' || c.expect === 'exists',
          (c) => ['stop', '-t', '1', c.name],
          () => 'stopped',
        );
      case 'kill':
        return this.onExisting(
          kind,
          (c) => c.expect === 'running',
          (c) => ['kill', c.name],
          () => 'stopped',
        );
      case 'rmForce':
        return this.onExisting(
          kind,
          (c) => c.expect !== 'transient',
          (c) => ['rm', '-f', c.name],
          () => 'gone',
        );
      case 'load': {
        const archive = r.pick(this.fixtures.loadArchives)!;
        const tag = l.tags.get(archive.tag) ?? l.setTag(archive.tag, archive.id, 'gone', 'never loaded');
        if (tag.busy) return false;
        await this.tagOp(kind, tag, ['load', '-i', archive.file], () => ({ expect: 'present' }));
        return true;
      }
      case 'import': {
        const tar = r.pick(this.fixtures.importTars)!;
        const ref = `crash/imp${l.newTagNumber()}:v1`;
        const tag = l.setTag(ref, '', 'unknown', 'import in flight');
        await this.tagOp(kind, tag, ['import', tar, ref], (out) => ({ expect: 'present', imageId: out.trim() }));
        return true;
      }
      case 'tag': {
        const source = r.pick(l.usableImages().filter((i) => i.id !== ''))!;
        const ref = `crash/t${l.newTagNumber()}:v1`;
        const tag = l.setTag(ref, source.id, 'unknown', 'tag in flight');
        await this.tagOp(kind, tag, ['tag', source.ref, ref], () => ({ expect: 'present' }));
        return true;
      }
      case 'rmi': {
        const tag = r.pick([...l.tags.values()].filter((t) => !t.busy && t.expect === 'present'));
        if (!tag) return false;
        await this.tagOp(kind, tag, ['rmi', tag.ref], () => ({ expect: 'gone' }));
        return true;
      }
      case 'rmiForce': {
        // rmi -f of a name whose image stopped containers use: the names go, the image
        // stays for them, legitimately without a name.
        const used = new Set(l.idleContainers((c) => c.expect === 'created' || c.expect === 'stopped').map((c) => c.image));
        const tag = r.pick([...l.tags.values()].filter((t) => !t.busy && t.expect === 'present' && used.has(t.ref)));
        if (!tag) return false;
        l.mayBeUnnamed.add(tag.imageId);
        await this.tagOp(kind, tag, ['rmi', '-f', tag.ref], () => ({ expect: 'gone' }));
        return true;
      }
      case 'prune': {
        // Unnamed images no container uses (what a retag left) go, with their blobs and
        // snapshots: the garbage collection of the image store, cut by kills like the rest.
        await this.command(kind, ['image', 'prune', '-f']);
        return true;
      }
      case 'retag': {
        // A name moved to another image: the one it leaves may be left without a name.
        const tag = r.pick([...l.tags.values()].filter((t) => !t.busy && t.expect === 'present' && t.ref.startsWith('crash/t')));
        const source = tag && r.pick(l.usableImages().filter((i) => i.id !== '' && i.id !== tag.imageId && i.ref !== tag.ref));
        if (!tag || !source) return false;
        l.mayBeUnnamed.add(tag.imageId);
        await this.tagOp(kind, tag, ['tag', source.ref, tag.ref], () => ({ expect: 'present', imageId: source.id }));
        return true;
      }
    }
  }

  private async onExisting(
    kind: OperationKind,
    want: (c: ContainerFact) => boolean,
    args: (c: ContainerFact) => string[],
    then: (c: ContainerFact) => ContainerFact['expect'],
  ): Promise<boolean> {
    const c = this.random.pick(this.ledger.idleContainers(want));
    if (!c) return false;
    c.busy = true;
    await this.container(kind, c, args(c), () => then(c));
    return true;
  }

  /** Run a docker command on a (leased) container and record its outcome. */
  private async container(
    kind: OperationKind,
    c: ContainerFact,
    args: string[],
    ok: (stdout: string) => ContainerFact['expect'],
  ): Promise<void> {
    try {
      const outcome = await this.command(kind, args);
      if (outcome.ok) {
        c.expect = ok(outcome.stdout);
        c.because = `docker ${args.join(' ')} returned`;
      } else if (outcome.unknown) {
        c.expect = 'unknown';
        c.because = `docker ${args.join(' ')} cut by a kill`;
      }
      // A refusal changes nothing the ledger holds... unless the container was new.
      else if (['create', 'runDetached', 'runRm', 'runDetachedRm'].includes(kind)) {
        c.expect = 'unknown';
        c.because = `docker ${args.join(' ')} failed: ${outcome.stderr.trim()}`;
      }
    } finally {
      c.busy = false;
    }
  }

  private async tagOp(
    kind: OperationKind,
    t: TagFact,
    args: string[],
    ok: (stdout: string) => { expect: TagFact['expect']; imageId?: string },
  ): Promise<void> {
    t.busy = true;
    try {
      const outcome = await this.command(kind, args);
      if (outcome.ok) {
        const next = ok(outcome.stdout);
        t.expect = next.expect;
        if (next.imageId !== undefined) t.imageId = next.imageId;
        t.because = `docker ${args.join(' ')} returned`;
      } else if (outcome.unknown || kind === 'import' || kind === 'tag' || kind === 'retag') {
        t.expect = 'unknown';
        t.because = `docker ${args.join(' ')} ${outcome.unknown ? 'cut by a kill' : `failed: ${outcome.stderr.trim()}`}`;
      }
    } finally {
      t.busy = false;
    }
  }

  private async command(kind: OperationKind, args: string[]): Promise<{ ok: boolean; unknown: boolean; stdout: string; stderr: string }> {
    const op: InFlight = { kind, args, startedAt: Date.now() };
    const epoch = this.crashes;
    this.inFlight.add(op);
    try {
      const res = await this.d.docker(args);
      if (res.code === 0) {
        this.counts[kind].ok++;
        return { ok: true, unknown: false, stdout: res.stdout, stderr: res.stderr };
      }
      this.counts[kind].failed++;
      const cut = this.crashes !== epoch || !this.d.running || lostDaemon.test(res.stderr);
      if (!cut && !expectedRefusal.test(res.stderr)) this.unexpected.push({ kind, args, stderr: res.stderr.trim() });
      return { ok: false, unknown: cut, stdout: res.stdout, stderr: res.stderr };
    } finally {
      this.inFlight.delete(op);
      if (this.inFlight.size === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }
}
