import type { Readable, Writable } from 'node:stream';
import { Conflict, InvalidArgument } from '@berth/core';
import type { Digest } from '../digest.js';

/** A blob that is open for reading: its size is that of the content the stream will give. */
export interface BlobReader {
  readonly size: number;
  /** The bytes from `start` to `end` inclusive (default: all); the reader closes when the stream ends or is destroyed. */
  stream(start?: number, end?: number): Readable;
  /**
   * Writes the bytes from `start` to `end` inclusive (default: all) to `dest` without
   * ending it, then closes the reader; rejects when `dest` fails or closes first. The
   * blob GET's path: a backend copies as cheaply as it can (the filesystem reuses two
   * buffers per transfer instead of allocating one per read).
   */
  writeTo(dest: Writable, start?: number, end?: number): Promise<void>;
  /** Closes the reader without streaming (a HEAD, or a request that failed before the body). */
  close(): Promise<void>;
}

/** An upload session as the storage keeps it. */
export interface UploadSession {
  id: string;
  repository: string;
  /** Bytes received so far: the next chunk must start here. */
  size: number;
  startedAt: Date;
  /** The last time a chunk arrived (or the start): how the garbage collector tells abandoned sessions. */
  updatedAt: Date;
}

/** A manifest stored in a repository (its bytes are a blob of the same digest). */
export interface ManifestRecord {
  digest: string;
  mediaType: string;
  size: number;
}

/** One entry of the referrers API: a manifest whose `subject` is another. */
export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** A blob as the garbage collector sees it. */
export interface StoredBlob {
  digest: string;
  /** The last time something claimed the blob (`claimBlob`, or writing it). */
  claimedAt: Date;
}

/** What `sweepBlob` did with one blob. */
export type SweepOutcome = 'deleted' | 'kept' | 'absent';

/**
 * Where a registry keeps everything: the one interface the server and the garbage
 * collector use, so that another backend (an object store) can replace the filesystem.
 * The server holds no state of its own between requests: every replica that shares a
 * storage gives the same answers, and an upload started on one can be finished on another.
 *
 * The contract a backend keeps:
 *
 * 1. **Blobs are content-addressed and global.** A blob is stored once under its digest,
 *    whichever repositories use it, and only after its digest was verified: nothing ever
 *    reads a partly written or unverified blob (`writeBlob` and `completeUpload` write
 *    elsewhere, verify, then publish atomically: temporary file, fsync, rename; on an
 *    object store, a conditional put of the verified object).
 * 2. **Repositories hold links, not content.** `linkBlob` makes a blob visible in one
 *    repository; a blob is served in a repository only through a link, so access rules per
 *    repository hold for content that several share. Manifests are blobs too, linked with
 *    their media type (`putManifest`), and tags are pointers from a name to a manifest
 *    digest, each replaced atomically (`setTag`).
 * 3. **Upload sessions are storage state.** `createUpload` → `appendUpload`* →
 *    `completeUpload` (verify, publish, link, forget the session) or `cancelUpload`. The
 *    session's received bytes and times live in the storage, never in a server's memory.
 *    An append states the offset it expects; a backend refuses one that does not match
 *    what it holds (`UploadOffsetMismatch`), which keeps chunks in order.
 * 4. **Claims make garbage collection safe while pushes run.** A blob carries the time it
 *    was last claimed: written, uploaded again, mounted, or referenced by a manifest being
 *    pushed (`claimBlob`, which the server calls *before* it commits the manifest).
 *    `sweepBlob(digest, cutoff)` deletes a blob only if no claim at or after `cutoff`
 *    exists, and is atomic against `claimBlob`: either the claim lands first and the blob
 *    stays, or the sweep lands first and the claim answers false (the push is refused with
 *    MANIFEST_BLOB_UNKNOWN, never accepted with a missing blob). A sweep cut short (a
 *    killed collector) must leave every blob either present or deleted once
 *    `recoverSweep` ran; readers and claims see a blob a cut-short sweep was holding.
 * 5. **Every operation is atomic or idempotent**, so a request or collector killed at any
 *    point leaves the store consistent: at worst an orphan temporary file or unreferenced
 *    blob, which the collector removes.
 *
 * Errors: lookups of absent things answer `undefined` or `false`; a backend throws only
 * for real failures (I/O) and for the documented conflicts.
 */
export interface RegistryStorage {
  // --- blobs ---
  /** Opens a blob for reading; undefined when it is not stored. */
  openBlob(digest: Digest): Promise<BlobReader | undefined>;
  /** The stored size of a blob; undefined when absent. */
  statBlob(digest: Digest): Promise<number | undefined>;
  /** Reads a small blob (a manifest) whole; undefined when absent. Refuses one larger than `limit`. */
  readBlob(digest: Digest, limit: number): Promise<Buffer | undefined>;
  /**
   * Stores `source` as a blob, hashing while it streams; publishes it only when its digest
   * is `expected` (else throws `DigestMismatch`, and nothing is stored). Claims the blob.
   */
  writeBlob(expected: Digest, source: Readable): Promise<number>;
  /** Marks a blob as in use now (see 4. above); false when it is not stored. */
  claimBlob(digest: Digest): Promise<boolean>;

  // --- repositories ---
  /** Makes a stored blob visible in `repository` (idempotent). */
  linkBlob(repository: string, digest: Digest): Promise<void>;
  /** Whether `repository` has a link to the blob. */
  hasBlobLink(repository: string, digest: Digest): Promise<boolean>;
  /** Removes the link; false when there was none. */
  unlinkBlob(repository: string, digest: Digest): Promise<boolean>;
  /** Every blob linked in `repository` (for the collector's cleaning of dangling links). */
  listBlobLinks(repository: string): Promise<Digest[]>;
  /** Every repository holding at least one link, sorted. */
  listRepositories(): Promise<string[]>;
  /** Whether `repository` exists (holds at least one link). */
  repositoryExists(repository: string): Promise<boolean>;

  // --- manifests, tags, referrers ---
  /** Links a stored manifest blob in `repository` with its media type (idempotent). */
  putManifest(repository: string, record: ManifestRecord): Promise<void>;
  getManifest(repository: string, digest: Digest): Promise<ManifestRecord | undefined>;
  /** Removes the manifest from `repository`, and every tag pointing at it; false when absent. */
  deleteManifest(repository: string, digest: Digest): Promise<boolean>;
  listManifests(repository: string): Promise<ManifestRecord[]>;
  /** Points `tag` at a manifest digest, replacing what it pointed at atomically. */
  setTag(repository: string, tag: string, digest: Digest): Promise<void>;
  getTag(repository: string, tag: string): Promise<Digest | undefined>;
  deleteTag(repository: string, tag: string): Promise<boolean>;
  /** The repository's tags, sorted lexically. */
  listTags(repository: string): Promise<string[]>;
  /** Records that `referrer` names `subject` as its subject. */
  addReferrer(repository: string, subject: Digest, referrer: ReferrerDescriptor): Promise<void>;
  removeReferrer(repository: string, subject: Digest, referrer: Digest): Promise<void>;
  listReferrers(repository: string, subject: Digest): Promise<ReferrerDescriptor[]>;

  // --- upload sessions ---
  createUpload(repository: string): Promise<UploadSession>;
  /** The session `id` of `repository`; undefined when unknown (or of another repository). */
  getUpload(repository: string, id: string): Promise<UploadSession | undefined>;
  /**
   * Appends `source` to the session. `expectedOffset` (when given) must equal the bytes
   * already received, else `UploadOffsetMismatch` is thrown and nothing is appended.
   */
  appendUpload(repository: string, id: string, source: Readable, expectedOffset?: number): Promise<UploadSession>;
  /**
   * Verifies the session's bytes against `digest`, publishes them as the blob, links it
   * in the repository, claims it and forgets the session. On a mismatch throws
   * `DigestMismatch` and forgets the session. Returns the blob's size.
   */
  completeUpload(repository: string, id: string, digest: Digest): Promise<number>;
  /** Forgets a session and its bytes; false when it was unknown. */
  cancelUpload(repository: string, id: string): Promise<boolean>;
  /** Every open session (the collector expires abandoned ones). */
  listUploads(): Promise<UploadSession[]>;
  /** Forgets a session whatever its repository (the collector's expiry of an abandoned one). */
  expireUpload(id: string): Promise<void>;
  /** Removes what killed requests left in the storage's scratch space before `cutoff`; returns how many. */
  removeStaleTemporaries(cutoff: Date): Promise<number>;

  // --- garbage collection ---
  /** Every stored blob with its last claim. */
  listBlobs(): AsyncIterable<StoredBlob>;
  /** Deletes the blob unless it was claimed at or after `cutoff` (atomic against `claimBlob`, see 4.). */
  sweepBlob(digest: Digest, cutoff: Date): Promise<SweepOutcome>;
  /** Puts back every blob a cut-short sweep was holding; returns how many. */
  recoverSweep(): Promise<number>;
  /**
   * Takes the collector's lock (one collector at a time per storage); returns its release.
   * Throws `Conflict` naming the holder while another live collector has it.
   */
  lockCollector(): Promise<() => Promise<void>>;
}

/** `writeBlob`/`completeUpload`: the bytes do not have the digest the client named (core's InvalidArgument, so 400 anywhere). */
export class DigestMismatch extends InvalidArgument {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`digest mismatch: the content is ${actual}, not ${expected}`);
  }
}

/** `appendUpload`: the chunk does not start where the session's bytes end (core's Conflict; the API answers 416). */
export class UploadOffsetMismatch extends Conflict {
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`chunk starts at ${actual}, but the upload holds ${expected} bytes`);
  }
}
