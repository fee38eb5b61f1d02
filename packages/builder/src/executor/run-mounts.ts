import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgument, NotImplemented } from '@berth/core';
import { resolveInRoot } from '@berth/native';
import type { BuildContext } from '../context/build-context.js';
import { type ContentHashCache, hashCopyPlan } from '../context/content-hash.js';
import { planCopy } from '../context/copy-plan.js';
import { contextFiles } from '../context/indexed-context.js';
import type { StageSourceRef } from '../dockerfile/build-plan.js';
import type { RunStep } from '../dockerfile/evaluate-stage.js';
import type { BuildImage, BuildWorker, RunStepMount } from '../worker/build-worker.js';

/** What the executor lends `resolveRunMounts`: the build's context, work directory and stages. */
export interface RunMountSources {
  worker: BuildWorker;
  context: BuildContext;
  workDir: string;
  hashes: ContentHashCache;
  /** The image of a stage or of an image reference (`from=`). */
  imageOf(ref: StageSourceRef): Promise<BuildImage>;
  /** The build's secrets by id, and the directory (a tmpfs) their files are made in for a step. */
  secrets?: { values: ReadonlyMap<string, Buffer>; dir: string };
}

/** A RUN's mounts ready for the worker, what decides their content for the cache, and their clean-up. */
export interface ResolvedRunMounts {
  mounts: RunStepMount[];
  /** `KEY=value` of the secrets a mount exposes as variables (`env=`): the process's only, never the image's. */
  env: string[];
  /** Digests of what bind mounts show (the context's files' content, a stage's image id): part of the step's cache key. */
  inputs: string[];
  /** Run `fn` while every `from=` image's root stays mounted (its bind sources are inside it). */
  hold<T>(fn: () => Promise<T>): Promise<T>;
  dispose(): Promise<void>;
}

/**
 * A RUN step's `--mount`s and heredoc scripts as the worker's mounts, BuildKit's way:
 * `bind` of the context (a path inside it, read-only unless `rw`; a symlink cannot lead
 * out) or of a stage's or image's root (`from=`, held mounted for the step); `cache` by
 * id (default: the target), kept by the engine between builds; `tmpfs`; a heredoc script
 * with a `#!` line as a read-only file. `secret` and `ssh` have no way in through the
 * classic builder's API: a required one is refused, a optional one left out.
 */
export async function resolveRunMounts(step: RunStep, sources: RunMountSources): Promise<ResolvedRunMounts> {
  const mounts: RunStepMount[] = [];
  const env: string[] = [];
  const inputs: string[] = [];
  let secretFiles: string | undefined;
  const holds: Array<{ image: BuildImage; binds: Array<{ source: string; target: string; readOnly: boolean }> }> = [];
  let scripts: string | undefined;
  const dispose = async () => {
    if (scripts) await fs.rm(scripts, { recursive: true, force: true });
    if (secretFiles) await fs.rm(secretFiles, { recursive: true, force: true });
  };
  try {
    for (const m of step.mounts) {
      if (m.type === 'secret' && m.id !== undefined && sources.secrets?.values.has(m.id)) {
        const value = sources.secrets.values.get(m.id)!;
        if (m.env) env.push(`${m.env}=${value.toString('utf8')}`);
        if (!secretFiles) {
          secretFiles = path.join(sources.secrets.dir, randomBytes(6).toString('hex'));
          await fs.mkdir(secretFiles, { recursive: true, mode: 0o700 });
        }
        const file = path.join(secretFiles, String(mounts.length));
        await fs.writeFile(file, value, { mode: m.mode ?? 0o400 });
        await fs.chmod(file, m.mode ?? 0o400);
        await fs.chown(file, m.uid ?? 0, m.gid ?? 0);
        mounts.push({ type: 'bind', source: file, target: m.target, readOnly: true });
        continue;
      }
      if (m.type === 'secret' || m.type === 'ssh') {
        if (m.required) {
          throw new InvalidArgument(
            m.type === 'secret'
              ? `RUN --mount=type=secret,id=${m.id} is required, but the build was given no secret ${m.id} (berth build --secret id=${m.id},src=<file>)`
              : 'RUN --mount=type=ssh is required, but berth builds carry no SSH agent',
          );
        }
        continue;
      }
      if (m.type === 'tmpfs') {
        mounts.push({ type: 'tmpfs', target: m.target, ...(m.size ? { sizeBytes: m.size } : {}) });
        continue;
      }
      if (m.type === 'cache') {
        if (m.fromRef) throw new NotImplemented('RUN --mount=type=cache,from=… is not supported by berth yet');
        mounts.push({
          type: 'cache',
          id: m.id ?? m.target,
          target: m.target,
          readOnly: m.readOnly,
          sharing: m.sharing ?? 'shared',
          ...(m.uid !== undefined ? { uid: m.uid } : {}),
          ...(m.gid !== undefined ? { gid: m.gid } : {}),
          ...(m.mode !== undefined ? { mode: m.mode } : {}),
        });
        continue;
      }
      // bind
      const source = m.source ?? '/';
      if (m.fromRef) {
        const image = await sources.imageOf(m.fromRef);
        if (image.layerCount === 0) throw new InvalidArgument(`RUN --mount from=${m.from}: the image has no files`);
        inputs.push(`bind ${m.target} from ${image.id}:${source}`);
        const hold = holds.find((h) => h.image.id === image.id) ?? { image, binds: [] };
        if (!holds.includes(hold)) holds.push(hold);
        hold.binds.push({ source, target: m.target, readOnly: m.readOnly });
        continue;
      }
      const context = sources.context;
      await contextFiles(context);
      const tree = { root: context.root, ignore: context.ignore, symlinks: 'refuse' as const, name: 'the build context' };
      // What the mount shows decides the step's result: its content digest is in the cache key.
      const plan = planCopy(tree, { sources: [source], dest: '/mount/' });
      inputs.push(`bind ${m.target} ${await hashCopyPlan(plan, {}, sources.hashes)}`);
      mounts.push({ type: 'bind', source: resolveInRoot(context.root, source), target: m.target, readOnly: m.readOnly });
    }
    if (step.inlineFiles.length > 0) {
      scripts = path.join(sources.workDir, `run-scripts-${randomBytes(6).toString('hex')}`);
      await fs.mkdir(scripts, { recursive: true, mode: 0o755 });
      for (const [i, file] of step.inlineFiles.entries()) {
        const host = path.join(scripts, String(i));
        await fs.writeFile(host, file.content, { mode: file.mode });
        await fs.chmod(host, file.mode);
        mounts.push({ type: 'bind', source: host, target: file.path, readOnly: true });
      }
    }
  } catch (err) {
    await dispose();
    throw err;
  }
  return {
    mounts,
    env,
    inputs,
    hold: <T>(fn: () => Promise<T>) => holdRoots(sources.worker, holds, mounts, fn),
    dispose,
  };
}

/** Mount each `from=` image's root (nested, one after the other), add its binds, then run `fn`. */
function holdRoots<T>(
  worker: BuildWorker,
  holds: Array<{ image: BuildImage; binds: Array<{ source: string; target: string; readOnly: boolean }> }>,
  mounts: RunStepMount[],
  fn: () => Promise<T>,
): Promise<T> {
  const [first, ...rest] = holds;
  if (!first) return fn();
  return worker.readRoot(first.image.id, (root) => {
    for (const bind of first.binds)
      mounts.push({ type: 'bind', source: resolveInRoot(root, bind.source), target: bind.target, readOnly: bind.readOnly });
    return holdRoots(worker, rest, mounts, fn);
  });
}
