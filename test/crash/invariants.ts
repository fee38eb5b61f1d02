import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CrashDaemon } from './crash-daemon';
import { blobDigest, chainIdsOf, isParkedInit, type KernelView, processState, readKernelView } from './kernel-view';
import type { Ledger } from './ledger';

/** One broken promise: which invariant, about what, and what was seen. */
export interface Violation {
  invariant: Invariant;
  subject: string;
  detail: string;
}

/** The invariants, by the name the report uses. */
export type Invariant =
  | 'state-matches-kernel'
  | 'no-orphan-mount'
  | 'no-orphan-cgroup'
  | 'no-orphan-shim'
  | 'no-orphan-runtime-state'
  | 'no-orphan-state-file'
  | 'no-orphan-snapshot'
  | 'no-orphan-image-file'
  | 'no-orphan-endpoint'
  | 'rm-containers-gone'
  | 'image-intact'
  | 'no-unnamed-image'
  | 'acknowledged-still-true'
  | 'api-answers';

/** What `docker inspect` says of a container (the fields the invariants read). */
interface ContainerInspect {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Pid: number; ExitCode: number };
  HostConfig: { AutoRemove: boolean };
}

interface ImageInspect {
  Id: string;
  RepoTags: string[] | null;
  RootFS: { Layers?: string[] };
}

/** Options of a check. */
export interface CheckOptions {
  /** Run `docker run --rm <image> true` for at most this many images not run before (Infinity: all). */
  runImages: number;
}

// A container holds a rootfs mount, a runtime state, a shim, a cgroup only in these states.
const holdsRun = new Set(['running', 'paused', 'restarting']);
const holdsMount = new Set(['running', 'paused', 'restarting', 'created']);

/**
 * Checks every invariant once, berthd idle (the workload paused). Reads berthd's answers
 * (`ps -a`, `inspect`, `images`, `image inspect`), then the kernel and the disk
 * (`readKernelView`), and compares them with each other and with the ledger. Learns the
 * ledger's unknowns from what it sees.
 */
export class InvariantChecker {
  /** Images already proved runnable (an image id names immutable content). */
  private readonly ran = new Set<string>();
  private verifyRuns = 0;

  constructor(
    private readonly d: CrashDaemon,
    private readonly ledger: Ledger,
  ) {}

  async check(options: CheckOptions): Promise<Violation[]> {
    const v: Violation[] = [];
    const add = (invariant: Invariant, subject: string, detail: string) => v.push({ invariant, subject, detail });

    const containers = await this.containers(add);
    const images = await this.images(add);
    if (!containers || !images) return v;
    const view = await readKernelView(this.d);
    const byId = new Map(containers.map((c) => [c.Id, c]));
    const byName = new Map(containers.map((c) => [c.Name.replace(/^\//, ''), c]));
    const running = new Set(containers.filter((c) => holdsRun.has(c.State.Status)).map((c) => c.Id));

    this.containerStates(containers, view, add);
    this.orphans(containers, byId, running, images, view, add);
    this.endpoints(running, add);
    for (const c of containers) {
      if (c.HostConfig.AutoRemove && !c.State.Running) {
        add(
          'rm-containers-gone',
          c.Name,
          `--rm container ${c.Id.slice(0, 12)} is ${c.State.Status} (exit ${c.State.ExitCode}) and still there`,
        );
      }
    }
    this.imageFiles(images, view, add);
    this.unnamedImages(images, add);
    await this.runImages(images, options.runImages, add);
    this.acknowledged(byName, images, add);
    return v;
  }

  /**
   * Every endpoint record is a running container's whose record (`container.json`) lists
   * the endpoint's network (a `network connect` cut short is undone, a `disconnect`
   * finished), no address is recorded twice on a network, and every veth on the daemon's
   * bridge is a recorded endpoint's (`vb` and 13 hex digits of its id, as the bridge
   * driver names them).
   */
  private endpoints(running: Set<string>, add: (i: Invariant, s: string, d: string) => void): void {
    const root = path.join(this.d.dataRoot, 'networks');
    const vethNames = new Set<string>();
    for (const network of readdirOrEmpty(root)) {
      const seen = new Map<string, string>();
      for (const file of readdirOrEmpty(path.join(root, network, 'endpoints'))) {
        if (!file.endsWith('.json')) {
          // An atomic write's temporary file: start-up deletes what a crash left of them.
          add('no-orphan-endpoint', file, `a file that is no endpoint record, still there after start-up`);
          continue;
        }
        let endpoint: { id: string; containerId: string; ipAddress?: string };
        try {
          endpoint = JSON.parse(readFileSync(path.join(root, network, 'endpoints', file), 'utf8'));
        } catch (err) {
          add('no-orphan-endpoint', file, `unreadable endpoint record: ${err}`);
          continue;
        }
        vethNames.add(`vb${endpoint.id.slice(0, 13)}`);
        if (!running.has(endpoint.containerId))
          add(
            'no-orphan-endpoint',
            endpoint.containerId.slice(0, 12),
            `an endpoint on network ${network.slice(0, 12)} of a container that is not running`,
          );
        else if (!this.listsNetwork(endpoint.containerId, network))
          add(
            'no-orphan-endpoint',
            endpoint.containerId.slice(0, 12),
            `an endpoint on network ${network.slice(0, 12)}, which the container's record does not list`,
          );
        if (endpoint.ipAddress) {
          const other = seen.get(endpoint.ipAddress);
          if (other)
            add(
              'no-orphan-endpoint',
              endpoint.ipAddress,
              `handed out twice: ${other.slice(0, 12)} and ${endpoint.containerId.slice(0, 12)}`,
            );
          seen.set(endpoint.ipAddress, endpoint.containerId);
        }
      }
    }
    const links = JSON.parse(
      execFileSync('ip', ['-j', 'link', 'show', 'master', this.d.network.bridge], { encoding: 'utf8' }) || '[]',
    ) as Array<{ ifname: string }>;
    for (const link of links)
      if (!vethNames.has(link.ifname)) add('no-orphan-endpoint', link.ifname, `a veth on ${this.d.network.bridge} of no recorded endpoint`);
  }

  /** Whether a container's record lists a network (by id, name, or `default` for the default bridge); true for a record it cannot read. */
  private listsNetwork(containerId: string, networkId: string): boolean {
    let listed: Array<{ network: string }>;
    let network: { id: string; name: string };
    try {
      const record = JSON.parse(readFileSync(path.join(this.d.dataRoot, 'containers', containerId, 'container.json'), 'utf8'));
      listed = record.networks ?? [];
      network = JSON.parse(readFileSync(path.join(this.d.dataRoot, 'networks', networkId, 'network.json'), 'utf8'));
    } catch {
      return true; // removed meanwhile: the other invariants say what is wrong
    }
    return listed.some(
      (a) => a.network === network.id || a.network === network.name || (a.network === 'default' && network.name === 'bridge'),
    );
  }

  private async containers(add: (i: Invariant, s: string, d: string) => void): Promise<ContainerInspect[] | undefined> {
    const ps = await this.d.docker(['ps', '-aq', '--no-trunc']);
    if (ps.code !== 0) {
      add('api-answers', 'docker ps -a', ps.stderr.trim());
      return undefined;
    }
    const ids = ps.stdout.split('\n').filter(Boolean);
    if (!ids.length) return [];
    const inspect = await this.d.docker(['inspect', ...ids]);
    let out: ContainerInspect[] = [];
    try {
      out = JSON.parse(inspect.stdout || '[]') as ContainerInspect[];
    } catch {
      add('api-answers', 'docker inspect', `not JSON: ${inspect.stdout.slice(0, 200)} ${inspect.stderr.trim()}`);
      return undefined;
    }
    // A container listed but not inspectable is a broken record (removal in progress is
    // not: ps lists what inspect can show).
    if (inspect.code !== 0) add('api-answers', 'docker inspect', `listed containers fail inspect: ${inspect.stderr.trim()}`);
    return out;
  }

  private async images(add: (i: Invariant, s: string, d: string) => void): Promise<ImageInspect[] | undefined> {
    const ls = await this.d.docker(['images', '-aq', '--no-trunc']);
    if (ls.code !== 0) {
      add('api-answers', 'docker images', ls.stderr.trim());
      return undefined;
    }
    const ids = [...new Set(ls.stdout.split('\n').filter(Boolean))];
    if (!ids.length) return [];
    const inspect = await this.d.docker(['image', 'inspect', ...ids]);
    if (inspect.code !== 0) add('image-intact', ids.join(' '), `docker image inspect of a listed image fails: ${inspect.stderr.trim()}`);
    try {
      return JSON.parse(inspect.stdout || '[]') as ImageInspect[];
    } catch {
      add('api-answers', 'docker image inspect', `not JSON: ${inspect.stdout.slice(0, 200)}`);
      return undefined;
    }
  }

  /** A container is Running only if its process was started; not running, it holds no run. */
  private containerStates(containers: ContainerInspect[], view: KernelView, add: (i: Invariant, s: string, d: string) => void): void {
    const runc = new Map(view.runc.map((s) => [s.id, s]));
    const shims = new Map(view.shims.filter((s) => s.id).map((s) => [s.id!, s.pid]));
    for (const c of containers) {
      const name = `${c.Name} ${c.Id.slice(0, 12)}`;
      const rs = runc.get(c.Id);
      if (c.State.Running) {
        if (!(c.State.Pid > 0) || !processState(c.State.Pid)) {
          add('state-matches-kernel', name, `reported Up with pid ${c.State.Pid}, which does not exist`);
        } else if (isParkedInit(c.State.Pid)) {
          add(
            'state-matches-kernel',
            name,
            `reported Up but its init (pid ${c.State.Pid}) is parked in runc init: it was created, never started`,
          );
        }
        if (!rs) add('state-matches-kernel', name, 'reported Up but runc has no state for it');
        else if (rs.status !== 'running') add('state-matches-kernel', name, `reported Up but runc says ${rs.status}`);
        if (!shims.has(c.Id)) add('state-matches-kernel', name, 'reported Up but no berth-shim watches it');
      } else {
        if (rs) {
          const parked = rs.status === 'created' ? ' (its init parked in runc init)' : '';
          add('state-matches-kernel', name, `reported ${c.State.Status} but runc holds it ${rs.status}${parked}, pid ${rs.pid}`);
        }
        if (shims.has(c.Id))
          add('state-matches-kernel', name, `reported ${c.State.Status} but its shim (pid ${shims.get(c.Id)}) still runs`);
      }
    }
  }

  /** Nothing in the kernel or on disk without a record that owns it. */
  private orphans(
    containers: ContainerInspect[],
    byId: Map<string, ContainerInspect>,
    running: Set<string>,
    images: ImageInspect[],
    view: KernelView,
    add: (i: Invariant, s: string, d: string) => void,
  ): void {
    const d = this.d;
    const status = (id: string) => byId.get(id)?.State.Status;
    for (const m of view.mounts) {
      const rel = path.relative(path.join(d.dataRoot, 'containers'), m).split(path.sep);
      const owned = rel.length === 2 && rel[1] === 'rootfs' && holdsMount.has(status(rel[0]!) ?? '');
      if (!owned) {
        const s = rel.length === 2 ? status(rel[0]!) : undefined;
        add('no-orphan-mount', m, s ? `mounted while its container is ${s}` : 'no container record owns it');
      }
    }
    for (const c of view.cgroups) {
      const base = path.basename(c);
      if (base === 'shims') continue;
      if (!running.has(base)) add('no-orphan-cgroup', c, status(base) ? `its container is ${status(base)}` : 'no container record owns it');
    }
    for (const s of view.shims) {
      if (!s.id || !running.has(s.id)) {
        add(
          'no-orphan-shim',
          `berth-shim pid ${s.pid}`,
          s.id && status(s.id) ? `its container is ${status(s.id)}` : `no container record owns it (id ${s.id})`,
        );
      }
    }
    for (const r of view.runc) {
      if (!running.has(r.id)) {
        add(
          'no-orphan-runtime-state',
          `runc ${r.id.slice(0, 12)}`,
          `runc state ${r.status} (pid ${r.pid}) and the container is ${status(r.id) ?? 'unknown to berthd'}`,
        );
      }
    }
    const runningPrefixes = new Set([...running].map((id) => id.slice(0, 32)));
    for (const s of view.stateDirs) {
      if (!runningPrefixes.has(s)) add('no-orphan-state-file', path.join(d.execRoot, 'c', s), 'a shim state dir with no running container');
    }
    const ids = new Set(containers.map((c) => c.Id));
    for (const e of view.containerDirs) {
      if (!ids.has(e)) add('no-orphan-state-file', path.join(d.dataRoot, 'containers', e), 'a container directory with no container');
    }
    const chains = new Set(images.flatMap((i) => chainIdsOf(i.RootFS.Layers ?? [])));
    const snapshotIds = new Set<string>();
    for (const s of view.snapshots) {
      snapshotIds.add(String(s.id));
      const kind = s.labels['berth.owner.kind'];
      const owner = s.labels['berth.owner.id'] ?? '';
      if (kind === 'container' && !ids.has(owner))
        add('no-orphan-snapshot', s.key, `a container snapshot whose container ${owner.slice(0, 12)} does not exist`);
      else if (kind === 'image-extract') add('no-orphan-snapshot', s.key, 'an interrupted layer extraction, still there after start-up');
      else if (kind === 'image' && !chains.has(s.key)) add('no-orphan-snapshot', s.key, 'a layer snapshot no image uses');
      else if (kind === undefined) add('no-orphan-snapshot', s.key, `an unlabelled ${s.kind} snapshot`);
    }
    for (const dir of view.snapshotDirs) {
      if (!snapshotIds.has(dir))
        add(
          'no-orphan-snapshot',
          path.join(d.dataRoot, 'storage', d.storageDriver, 'snapshots', dir),
          'a snapshot directory the driver has no record of',
        );
    }
  }

  /** Every image and layer is whole: metadata, config blob, layer records and blobs, digests. */
  private imageFiles(images: ImageInspect[], view: KernelView, add: (i: Invariant, s: string, d: string) => void): void {
    const files = view.images;
    const root = this.d.dataRoot;
    const listed = new Set(images.map((i) => i.Id));
    const usedBlobs = new Set<string>();
    const usedLayers = new Set<string>();
    for (const [id, meta] of files.metadata) {
      usedBlobs.add(id);
      if (!listed.has(id)) add('image-intact', id, 'an image record berthd does not list');
      const config = blobDigest(root, id);
      if (config === undefined) add('image-intact', id, 'its config blob is missing');
      else if (config !== id) add('image-intact', id, `its config blob hashes to ${config}`);
      for (const diffId of meta.diffIds) {
        usedLayers.add(diffId);
        const blob = files.layers.get(diffId);
        if (!blob) {
          add('image-intact', id, `layer ${diffId} has no layer record`);
          continue;
        }
        usedBlobs.add(blob);
        const actual = blobDigest(root, blob);
        if (actual === undefined) add('image-intact', id, `layer ${diffId}: blob ${blob} is missing`);
        else if (actual !== blob) add('image-intact', id, `layer ${diffId}: blob ${blob} hashes to ${actual}`);
      }
    }
    for (const i of images) if (!files.metadata.has(i.Id)) add('image-intact', i.Id, 'listed by berthd but has no metadata file');
    for (const [ref, id] of files.references) {
      if (!files.metadata.has(id)) add('image-intact', ref, `repositories.json names ${id}, which has no metadata`);
    }
    for (const b of files.blobs) if (!usedBlobs.has(b)) add('no-orphan-image-file', b, 'a blob no image or layer uses');
    for (const diffId of files.layers.keys())
      if (!usedLayers.has(diffId)) add('no-orphan-image-file', diffId, 'a layer record no image uses');
    for (const f of files.ingest)
      add('no-orphan-image-file', path.join(root, 'blobs', 'ingest', f), 'an interrupted ingest, still there after start-up');
    if (files.pendingOperation)
      add('no-orphan-image-file', path.join(root, 'images', 'pending.json'), 'an image operation neither finished nor undone at start-up');
  }

  /**
   * An image without a name is one an operation left so on purpose (a tag moved away from
   * it, `rmi -f` while containers use it: the ledger's `mayBeUnnamed`); any other is what
   * a cut-short load or import left, stored but never named, which nothing collects.
   */
  private unnamedImages(images: ImageInspect[], add: (i: Invariant, s: string, d: string) => void): void {
    for (const image of images) {
      if ((image.RepoTags ?? []).length > 0 || this.ledger.mayBeUnnamed.has(image.Id)) continue;
      add('no-unnamed-image', image.Id, 'an image without a name that no tag move or rmi -f left so: a cut-short load or import stored it');
    }
  }

  private async runImages(images: ImageInspect[], limit: number, add: (i: Invariant, s: string, d: string) => void): Promise<void> {
    let budget = limit;
    for (const image of images) {
      if (budget <= 0) break;
      if (this.ran.has(image.Id)) continue;
      budget--;
      const name = `crash-verify-${this.verifyRuns++}`;
      const res = await this.d.docker(['run', '--rm', '--name', name, image.Id, 'true']);
      if (res.code === 0) this.ran.add(image.Id);
      else add('image-intact', image.Id, `docker run --rm ${image.Id.slice(7, 19)} true failed: ${res.stderr.trim()}`);
    }
  }

  /** Every operation the client saw succeed is still true; unknowns are learnt. */
  private acknowledged(
    byName: Map<string, ContainerInspect>,
    images: ImageInspect[],
    add: (i: Invariant, s: string, d: string) => void,
  ): void {
    for (const c of this.ledger.containers.values()) {
      const seen = byName.get(c.name);
      const why = `(${c.because})`;
      switch (c.expect) {
        case 'gone':
          if (seen) add('acknowledged-still-true', c.name, `removed, but it is back: ${seen.State.Status} ${why}`);
          break;
        case 'created':
          if (!seen) add('acknowledged-still-true', c.name, `created, but it does not exist ${why}`);
          else if (seen.State.Status !== 'created')
            add('acknowledged-still-true', c.name, `created and never started, but it is ${seen.State.Status} ${why}`);
          break;
        case 'running':
          if (!seen) add('acknowledged-still-true', c.name, `started, but it does not exist ${why}`);
          else if (!seen.State.Running) {
            add(
              'acknowledged-still-true',
              c.name,
              `started (sleep 3600), but it is ${seen.State.Status} exit ${seen.State.ExitCode}: a container must outlive berthd ${why}`,
            );
          }
          break;
        case 'exists':
          if (!seen) add('acknowledged-still-true', c.name, `does not exist ${why}`);
          break;
        case 'stopped':
          if (!seen) add('acknowledged-still-true', c.name, `stopped, but it does not exist ${why}`);
          else if (seen.State.Running) add('acknowledged-still-true', c.name, `stopped, but it runs ${why}`);
          break;
        case 'transient':
        case 'unknown':
          break;
      }
      // Learn: what an unknown became, or a transient once it is gone.
      if (c.expect === 'unknown' || c.expect === 'transient') {
        if (!seen) {
          c.expect = 'gone';
          c.because = `seen absent after ${c.because}`;
        } else if (c.expect === 'unknown') {
          c.id = seen.Id;
          c.expect = seen.State.Running ? (c.longRunning ? 'running' : 'exists') : seen.State.Status === 'created' ? 'created' : 'stopped';
          if (c.autoRemove) c.expect = 'transient';
          c.because = `seen ${seen.State.Status} after ${c.because}`;
        }
      }
    }
    // Every name berthd has, from the `image inspect` of every listed image this check
    // already made (one CLI call, however many names the ledger has learnt).
    const named = new Map<string, string>();
    for (const image of images) for (const ref of image.RepoTags ?? []) named.set(ref, image.Id);
    for (const t of this.ledger.tags.values()) {
      const id = named.get(t.ref);
      if (t.expect === 'present') {
        if (!id) add('acknowledged-still-true', t.ref, `tagged/loaded/imported, but the name is gone (${t.because})`);
        else if (t.imageId && id !== t.imageId) add('acknowledged-still-true', t.ref, `names ${id}, not ${t.imageId} (${t.because})`);
      } else if (t.expect === 'gone') {
        if (id) add('acknowledged-still-true', t.ref, `removed, but it is back, naming ${id} (${t.because})`);
      } else {
        t.expect = id ? 'present' : 'gone';
        if (id) t.imageId = id;
        t.because = `seen ${t.expect} after ${t.because}`;
      }
    }
  }
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
