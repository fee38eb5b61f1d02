import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgument } from '@berth/core';
import { type AddPlan, hashAddPlan, planAdd, writeAddPlan } from '../context/add-plan.js';
import type { BuildContext } from '../context/build-context.js';
import { parseChmod } from '../context/chmod.js';
import { resolveChown } from '../context/chown.js';
import { type ContentHashCache, hashCopyPlan } from '../context/content-hash.js';
import { indexRoot } from '../context/context-index.js';
import { type CopyPlan, type CopySourceTree, planCopy } from '../context/copy-plan.js';
import { writeCopyPlan } from '../context/copy-writer.js';
import { contextFiles, isIndexedContext } from '../context/indexed-context.js';
import { makeOwnedDir } from '../context/work-dir.js';
import type { CopyStep } from '../dockerfile/evaluate-stage.js';

/** A COPY or ADD resolved against its source tree: what it writes, and the digest of its inputs. */
export interface ResolvedFiles {
  /** `sha256:<hex>` of the sources' content and metadata (never their mtimes): the step's cache input. */
  inputs: string;
  /** The history line: `/bin/sh -c #(nop) COPY file:<hex> in /app `, as the classic builder writes it. */
  createdBy: string;
  /** Write the files into a step's root (the parent's content in it). */
  write(root: string): Promise<void>;
  /** Remove what resolving made (downloads, checkouts, heredoc files). Idempotent. */
  dispose(): Promise<void>;
}

/** Where a COPY/ADD reads: the build context, or another stage's or image's root. */
export type FilesSource = { kind: 'context'; context: BuildContext } | { kind: 'root'; root: string; name: string };

/**
 * Resolve a COPY or ADD step: its sources inside their tree (the context with its
 * .dockerignore, symlinks out refused; or a root filesystem for `--from`), what it will
 * write, and the digest of its inputs. Heredoc sources (`COPY <<EOF /dest`) become files
 * of a directory of their own under `workDir`.
 */
export async function resolveFiles(
  step: CopyStep,
  source: FilesSource,
  options: { workDir: string; hashes: ContentHashCache; signal?: AbortSignal },
): Promise<ResolvedFiles> {
  const cleanups: Array<() => Promise<void>> = [];
  const dispose = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  try {
    const heredocs = step.sources.filter((s) => s.kind === 'heredoc');
    let tree: CopySourceTree;
    let sources: string[];
    /** The tree to write from, when `tree` is an index (made on disk only then). */
    let onDisk: (() => Promise<CopySourceTree>) | undefined;
    if (heredocs.length > 0) {
      if (heredocs.length !== step.sources.length) {
        throw new InvalidArgument(`${step.kind.toUpperCase()} cannot take heredocs and paths in one instruction`);
      }
      const made = await makeOwnedDir(options.workDir, 'heredoc');
      cleanups.push(made.remove);
      for (const doc of heredocs) await fs.writeFile(path.join(made.dir, doc.name), doc.content, { mode: 0o644 });
      tree = { root: made.dir, symlinks: 'refuse', name: 'the heredoc' };
      sources = heredocs.map((doc) => doc.name);
    } else if (source.kind === 'context' && step.kind === 'copy' && isIndexedContext(source.context)) {
      // Planned and hashed against the context's index: nothing is unpacked unless the step misses the cache.
      const context = source.context;
      tree = { root: indexRoot, fs: context.index, ignore: context.ignore, symlinks: 'refuse', name: 'the build context' };
      onDisk = async () => {
        await context.ready();
        return { root: context.root, ignore: context.ignore, symlinks: 'refuse', name: 'the build context' };
      };
      sources = step.sources.map((s) => (s.kind === 'path' ? s.path : s.name));
    } else {
      if (source.kind === 'context') await contextFiles(source.context);
      tree =
        source.kind === 'context'
          ? { root: source.context.root, ignore: source.context.ignore, symlinks: 'refuse', name: 'the build context' }
          : { root: source.root, symlinks: 'in-root', name: source.name };
      sources = step.sources.map((s) => (s.kind === 'path' ? s.path : s.name));
    }
    const request = { sources, dest: step.dest, workdir: step.workdir, parents: step.parents, exclude: step.exclude };
    const chmod = step.chmod === undefined ? undefined : parseChmod(step.chmod);
    let plan: CopyPlan;
    let add: AddPlan | undefined;
    let inputs: string;
    if (step.kind === 'add') {
      add = await planAdd(
        tree,
        {
          ...request,
          unpack: step.unpack ?? source.kind === 'context',
          keepGitDir: step.keepGitDir ?? false,
          ...(step.checksum !== undefined ? { checksum: step.checksum } : {}),
        },
        {
          workDir: options.workDir,
          ...(options.signal ? { signal: options.signal } : {}),
        },
      );
      cleanups.push(() => add!.dispose());
      plan = add.copy;
      inputs = await hashAddPlan(add, { ...(chmod ? { chmod } : {}) }, options.hashes);
    } else {
      plan = planCopy(tree, request);
      inputs = await hashCopyPlan(plan, { ...(chmod ? { chmod } : {}) }, options.hashes);
    }
    const hex = inputs.replace(/^sha256:/, '');
    const what = sources.length > 1 ? 'multi' : plan.entries.length === 1 && plan.entries[0]!.kind === 'file' ? 'file' : 'dir';
    return {
      inputs: `${inputs.startsWith('sha256:') ? '' : 'sha256:'}${inputs}`,
      createdBy: `/bin/sh -c #(nop) ${step.kind.toUpperCase()} ${what}:${hex} in ${step.dest} `,
      write: async (root) => {
        // The owner is looked up in the step's own /etc/passwd and /etc/group (the parent's).
        const owner = resolveChown(step.chown, root);
        const writeOptions = { owner, ...(chmod ? { chmod } : {}) };
        if (add) await writeAddPlan(add, root, writeOptions);
        else if (onDisk) await writeCopyPlan(planCopy(await onDisk(), request), root, writeOptions);
        else await writeCopyPlan(plan, root, writeOptions);
      },
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** The cache key of a step: its parent, what the Dockerfile says of it, and its inputs' digest. */
export function stepCacheKey(parent: string | null, stepKey: Record<string, unknown>, inputs?: string): string {
  return `sha256:${createHash('sha256')
    .update(JSON.stringify({ parent: parent ?? 'scratch', step: stepKey, ...(inputs ? { inputs } : {}) }))
    .digest('hex')}`;
}
