import type { Digest } from './digest.js';

/**
 * The write-ahead record of an image operation that adds images (`docker load`,
 * `docker import`, `docker commit`, a future pull or build): `<root>/images/pending.json`,
 * written atomically by `ImageStore.createImages` before the first of its images'
 * metadata, and unlinked (directory fsynced) once its names are durable. It plays the
 * part the container record's `pending` plays for a start: recovery decides from it, and
 * from nothing the process held in memory.
 *
 * Lifecycle, inside one exclusive section of the store (no other write of the store can
 * fall between its steps, so at most one record exists and, when one does, its operation
 * was the store's last writer):
 *
 * 1. the blobs and layer records the images need are already durable (garbage until an
 *    image uses them);
 * 2. this record is written: which images the operation makes that the store did not
 *    have (`images`), and every name it gives (`references`, new images' and existing
 *    ones');
 * 3. each new image's metadata is written; none is visible to anyone yet (the store adds
 *    them to its memory only after step 4), so no container, tag, or child image can
 *    come to depend on one;
 * 4. every name is written in one atomic write of `repositories.json`: the commit point;
 * 5. `lastTagTime` of the existing images that got a name (advisory; new ones carry it
 *    from step 3);
 * 6. the record is unlinked.
 *
 * At `ImageStore.open`, a record that exists is an operation cut short, and
 * `pendingOutcome` says what it passed: past the commit point it is finished (step 5
 * redone, the record removed); before it, it is undone: the metadata of its new images
 * is removed (with the record), and the blobs and layer records only they used are then
 * garbage that the same `open` collects. Either way the client, who never had an answer,
 * finds the operation whole or absent, never an image without the names it was given.
 */
export interface PendingImageOperation {
  /** What the images are made by, for the log: `load`, `import`, `commit`, `create`. */
  op: string;
  /** When the operation wrote this record (ISO 8601); also the new images' `lastTagTime`. */
  started: string;
  /** The images this operation makes that the store did not have before it. */
  images: Digest[];
  /** Fully qualified reference → image id: every name the operation gives. */
  references: Record<string, Digest>;
}

/**
 * What recovery does with a pending operation, from what is durable: `finish` if every
 * new image's metadata exists and `repositories.json` maps every name of the record to
 * its image, else `undo`. The names are written after the last metadata, in one atomic
 * write, and the record existing means no later write moved one: so this is true exactly
 * when the operation passed its commit point (a name the store already held before the
 * operation cannot fake it, since the new images' metadata must exist too, and for an
 * operation that gives no names the last metadata is the commit point).
 */
export function pendingOutcome(
  pending: PendingImageOperation,
  namesOnDisk: ReadonlyMap<string, Digest>,
  hasMetadata: (id: Digest) => boolean,
): 'finish' | 'undo' {
  const named = Object.entries(pending.references).every(([ref, id]) => namesOnDisk.get(ref) === id);
  return named && pending.images.every((id) => hasMetadata(id)) ? 'finish' : 'undo';
}

/** `PendingImageOperation` as read back from disk; undefined if it is not one (never written by this store). */
export function parsePendingOperation(value: unknown): PendingImageOperation | undefined {
  const v = value as Partial<PendingImageOperation> | null;
  if (typeof v !== 'object' || v === null) return undefined;
  if (typeof v.op !== 'string' || typeof v.started !== 'string') return undefined;
  if (!Array.isArray(v.images) || !v.images.every((i) => typeof i === 'string')) return undefined;
  if (typeof v.references !== 'object' || v.references === null) return undefined;
  return v as PendingImageOperation;
}
