import { InvalidArgument } from '../errors.js';

/**
 * The labels berth itself puts on snapshots, so that recovery after a crash can tell
 * who a snapshot belongs to from what the snapshot says, not from the shape of its key
 * (a container's 64-hex id looks like any other hex key, e.g. the builder's).
 *
 * `ownerKind` says what made the snapshot and decides what becomes of it:
 * - `container`: a container's writable layer (active); `ownerId` is the container's
 *   id. It lives as long as the container's record: one without a record is what a
 *   crash in the middle of a removal leaves, and goes.
 * - `image-extract`: an active snapshot a layer is being unpacked into; `ownerId` is
 *   the chain id it will be committed as. Extraction never survives the process that
 *   started it, so after a restart every such snapshot is a leftover and goes.
 * - `image`: a committed image layer; `ownerId` is its chain id (its name). It lives
 *   while an image refers to that chain id.
 * - `build` (with the builder): a snapshot a build works in; `ownerId` is the build's id.
 * - `differ`: a view of a snapshot's parent the differ (snapshotChanges) compares it
 *   with; `ownerId` is the snapshot's key. It lives for one diff: after a restart every
 *   such view is a leftover and goes.
 *
 * A snapshot without these labels was written before berth had labels (or by someone
 * else): recovery must not take its absence as "owned by nobody".
 */
export const SnapshotLabels = {
  ownerKind: 'berth.owner.kind',
  ownerId: 'berth.owner.id',
} as const;

/** The values of `SnapshotLabels.ownerKind` (see SnapshotLabels). */
export type SnapshotOwnerKind = 'container' | 'image-extract' | 'image' | 'build' | 'differ';

/** The owner labels of a snapshot made by `kind` for `id`, to pass as `labels` to prepare/view/commit. */
export function ownerLabels(kind: SnapshotOwnerKind, id: string): Record<string, string> {
  return { [SnapshotLabels.ownerKind]: kind, [SnapshotLabels.ownerId]: id };
}

/**
 * Bytes (UTF-8) one label may take, key and value together; containerd's limit. Labels
 * are small facts about a snapshot, not a place for data.
 */
export const MAX_SNAPSHOT_LABEL_BYTES = 4096;

/**
 * Bytes (UTF-8) all labels of one snapshot may take, keys and values together: a
 * driver may rewrite every snapshot's record on each change (overlay keeps them in one
 * file), so labels must stay small for every snapshot, not just one.
 */
export const MAX_SNAPSHOT_LABELS_BYTES = 16384;

/**
 * Check labels given to a storage driver and return a copy the caller can no longer
 * change (drivers call this before they create or change anything). `undefined` is no
 * labels. Throws InvalidArgument naming the label: not an object, an empty key, a value
 * that is not a string, one label or all of them too large.
 */
export function checkSnapshotLabels(labels: Record<string, string> | undefined): Record<string, string> {
  if (labels === undefined) return {};
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    throw new InvalidArgument(`snapshot labels must be an object of strings, not ${labels === null ? 'null' : typeof labels}`);
  }
  // Object.entries and fromEntries: own properties only, and a key such as "__proto__"
  // stays a plain key of the copy instead of reaching its prototype.
  const entries = Object.entries(labels as Record<string, unknown>);
  let total = 0;
  for (const [key, value] of entries) {
    if (key === '') throw new InvalidArgument('snapshot label with an empty key');
    if (typeof value !== 'string') {
      throw new InvalidArgument(
        `snapshot label ${JSON.stringify(key)}: the value must be a string, not ${value === null ? 'null' : typeof value}`,
      );
    }
    const bytes = Buffer.byteLength(key) + Buffer.byteLength(value);
    if (bytes > MAX_SNAPSHOT_LABEL_BYTES) {
      throw new InvalidArgument(
        `snapshot label ${JSON.stringify(key.slice(0, 64))}: key and value take ${bytes} bytes, more than ${MAX_SNAPSHOT_LABEL_BYTES}`,
      );
    }
    total += bytes;
  }
  if (total > MAX_SNAPSHOT_LABELS_BYTES) {
    throw new InvalidArgument(`snapshot labels take ${total} bytes in all, more than ${MAX_SNAPSHOT_LABELS_BYTES}`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}
