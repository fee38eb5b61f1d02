import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { cgroupDirs, mountsUnder, run, shimPids } from '../e2e/harness';
import type { CrashDaemon } from './crash-daemon';

/** A runc container as `runc list` reports it. */
export interface RuncState {
  id: string;
  pid: number;
  status: string;
}

/** A snapshot as the overlay driver records it in `<data-root>/storage/overlay/metadata.json`. */
export interface SnapshotView {
  key: string;
  id: number;
  kind: string;
  labels: Record<string, string>;
}

/**
 * Everything a daemon's containers and images can hold outside berthd's own answers,
 * read straight from the kernel and the disk: mounts under the harness directory, the
 * cgroups below the cgroup parent, shim processes naming the directory, runc's states,
 * the exec root's state dirs, the container directories, the storage driver's
 * snapshots, the image store's files. The invariants compare it with what berthd says.
 */
export interface KernelView {
  mounts: string[];
  /** Per hierarchy, the cgroup directories directly below the parent (`shims` included). */
  cgroups: string[];
  shims: Array<{ pid: number; id: string | undefined }>;
  runc: RuncState[];
  /** `<exec-root>/c/<id[0:32]>` directories. */
  stateDirs: string[];
  /** Entries of `<data-root>/containers`. */
  containerDirs: string[];
  snapshots: SnapshotView[];
  /** Directory names under `storage/overlay/snapshots`. */
  snapshotDirs: string[];
  images: ImageFiles;
}

/** The image store's files (packages/image's layout). */
export interface ImageFiles {
  /** `images/pending.json`, the write-ahead record of a load, import or commit, is there. */
  pendingOperation: boolean;
  blobs: string[];
  ingest: string[];
  /** Temporary files of atomic writes (`.<name>.<hex>.tmp`) under `images/`. */
  temporaries: string[];
  /** diffID → the record's blob digest. */
  layers: Map<string, string>;
  metadata: Map<string, { diffIds: string[]; chainIds: string[] }>;
  references: Map<string, string>;
}

export async function readKernelView(d: CrashDaemon): Promise<KernelView> {
  // Under crun: its list, in the mount namespace the runtime-oci plugin gives crun on a
  // hybrid host (berth-shim --hide-mount ... --run).
  const list = [d.runtime, '--root', d.runcRoot, 'list', '--format', 'json'];
  const hybrid = readFileSync('/proc/self/mounts', 'utf8').includes(' /sys/fs/cgroup/unified cgroup2 ');
  const runcList =
    d.runtime === 'crun' && hybrid
      ? await run(
          path.resolve(__dirname, '../../native/shim/berth-shim'),
          ['--hide-mount', '/sys/fs/cgroup/unified', '--run', '/usr/bin/crun', ...list.slice(1)],
          {},
        )
      : await run(list[0]!, list.slice(1), {});
  let runc: RuncState[] = [];
  if (runcList.code === 0 && runcList.stdout.trim() && runcList.stdout.trim() !== 'null') {
    runc = (JSON.parse(runcList.stdout) as RuncState[]).map((s) => ({ id: s.id, pid: s.pid, status: s.status }));
  }
  const cgroups: string[] = [];
  for (const parent of cgroupDirs(d.cgroupParent)) cgroups.push(...subdirs(parent).map((c) => path.join(parent, c)));
  return {
    mounts: mountsUnder(d.dir),
    cgroups,
    shims: shimPids(d.dir).map((pid) => ({ pid, id: shimId(pid) })),
    runc,
    stateDirs: subdirs(path.join(d.execRoot, 'c')),
    containerDirs: entries(path.join(d.dataRoot, 'containers')),
    snapshots: readSnapshots(d),
    snapshotDirs: entries(path.join(d.dataRoot, 'storage', d.storageDriver, 'snapshots')),
    images: readImageFiles(d.dataRoot),
  };
}

function readSnapshots(d: CrashDaemon): SnapshotView[] {
  const file = path.join(d.dataRoot, 'storage', d.storageDriver, 'metadata.json');
  if (!existsSync(file)) return [];
  const meta = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshots: Record<string, { id: number; kind: string; labels?: Record<string, string> }>;
  };
  return Object.entries(meta.snapshots ?? {}).map(([key, s]) => ({ key, id: s.id, kind: s.kind, labels: s.labels ?? {} }));
}

export function readImageFiles(dataRoot: string): ImageFiles {
  const layers = new Map<string, string>();
  for (const name of entries(path.join(dataRoot, 'images', 'layers'))) {
    if (!name.endsWith('.json')) continue;
    const rec = JSON.parse(readFileSync(path.join(dataRoot, 'images', 'layers', name), 'utf8')) as { diffId: string; digest: string };
    layers.set(rec.diffId, rec.digest);
  }
  const metadata = new Map<string, { diffIds: string[]; chainIds: string[] }>();
  for (const name of entries(path.join(dataRoot, 'images', 'metadata'))) {
    if (!name.endsWith('.json')) continue;
    const rec = JSON.parse(readFileSync(path.join(dataRoot, 'images', 'metadata', name), 'utf8')) as {
      id: string;
      diffIds: string[];
      chainIds: string[];
    };
    metadata.set(rec.id, { diffIds: rec.diffIds, chainIds: rec.chainIds });
  }
  const references = new Map<string, string>();
  const reposFile = path.join(dataRoot, 'images', 'repositories.json');
  if (existsSync(reposFile)) {
    const repos = JSON.parse(readFileSync(reposFile, 'utf8')) as { references?: Record<string, string> };
    for (const [ref, id] of Object.entries(repos.references ?? {})) references.set(ref, id);
  }
  return {
    pendingOperation: existsSync(path.join(dataRoot, 'images', 'pending.json')),
    blobs: entries(path.join(dataRoot, 'blobs', 'sha256')).map((h) => `sha256:${h}`),
    ingest: entries(path.join(dataRoot, 'blobs', 'ingest')),
    temporaries: ['images', 'images/metadata', 'images/layers'].flatMap((dir) =>
      entries(path.join(dataRoot, dir))
        .filter((n) => n.endsWith('.tmp'))
        .map((n) => path.join(dataRoot, dir, n)),
    ),
    layers,
    metadata,
    references,
  };
}

const hashCache = new Map<string, { mtimeMs: number; size: number; digest: string }>();

/** sha256 of a blob file, cached by mtime and size (blobs are immutable once named). */
export function blobDigest(dataRoot: string, digest: string): string | undefined {
  const file = path.join(dataRoot, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(file);
  } catch {
    return undefined;
  }
  const cached = hashCache.get(file);
  if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.digest;
  const actual = `sha256:${createHash('sha256').update(readFileSync(file)).digest('hex')}`;
  hashCache.set(file, { mtimeMs: st.mtimeMs, size: st.size, digest: actual });
  return actual;
}

/** Chain IDs of a list of diffIDs, as the OCI image spec defines them. */
export function chainIdsOf(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out.at(-1);
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  }
  return out;
}

/** A process's state letter and name (`S runc:[2:INIT]`), or undefined once it is gone. */
export function processState(pid: number): { state: string; comm: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    return { comm: stat.slice(open + 1, close), state: stat.slice(close + 2, close + 3) };
  } catch {
    return undefined;
  }
}

/** Whether a process is a container init still parked in `runc init` (created, never started). */
export function isParkedInit(pid: number): boolean {
  return processState(pid)?.comm.startsWith('runc:[2:INIT]') ?? false;
}

function shimId(pid: number): string | undefined {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const i = args.indexOf('--id');
    return i >= 0 ? args[i + 1] : undefined;
  } catch {
    return undefined;
  }
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
