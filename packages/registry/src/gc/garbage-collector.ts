import { parseDigest } from '../digest.js';
import { MAX_MANIFEST_BYTES } from '../http/registry-api.js';
import { parseManifest } from '../manifest.js';
import type { RegistryStorage } from '../storage/registry-storage.js';

/** How the collector decides what is old enough to go. */
export interface GarbageCollectionOptions {
  /**
   * A blob claimed (uploaded, mounted, referenced by a manifest being pushed) within this
   * many milliseconds before the collection started is kept even if nothing references
   * it yet: a push uploads its blobs first and its manifest last. Default one hour.
   */
  graceMs?: number;
  /** An upload session idle this long is abandoned and removed. Default 24 hours. */
  uploadExpiryMs?: number;
  /** Decide and report, delete nothing. */
  dryRun?: boolean;
  /** Progress lines for people. */
  log?: (line: string) => void;
  /** The clock (tests). */
  now?: () => number;
}

/** What a collection did. */
export interface GarbageCollectionReport {
  /** Blobs a cut-short earlier sweep was holding, put back first. */
  recovered: number;
  manifests: number;
  /** Distinct blobs reachable from a manifest (manifests themselves included). */
  marked: number;
  /** Blobs deleted (or, in a dry run, that would be). */
  deleted: string[];
  /** Unreferenced blobs kept because they were claimed within the grace period (pushes in progress). */
  keptRecent: number;
  uploadsExpired: number;
  temporariesRemoved: number;
}

export const DEFAULT_GRACE_MS = 60 * 60_000;
export const DEFAULT_UPLOAD_EXPIRY_MS = 24 * 60 * 60_000;

/**
 * Mark and sweep of the blobs no manifest references, safe while pushes run and safe to
 * interrupt:
 *
 * 1. One collector at a time (the storage's collector lock; a killed holder's lock is taken over).
 * 2. Put back what a cut-short sweep was holding (`recoverSweep`).
 * 3. Mark: every manifest of every repository, tagged or not, is a root; it marks itself,
 *    its config and layers, and the manifests an index lists.
 * 4. Sweep: an unmarked blob goes only if its last claim is older than the collection's
 *    start minus the grace period, and through `sweepBlob`, which is atomic against the
 *    claims a manifest push makes before it commits. So a push that finishes while the
 *    collector runs either keeps its blobs or is refused (MANIFEST_BLOB_UNKNOWN), never
 *    accepted with a blob missing; blobs of a push whose manifest has not come yet are
 *    within the grace period.
 * 5. Upload sessions idle past the expiry, and temporary files as old, are removed.
 *
 * Killed anywhere, it leaves the storage consistent: at most one blob sits aside, which
 * any read or claim of it, and the next collection, puts back.
 */
export async function collectGarbage(storage: RegistryStorage, options: GarbageCollectionOptions = {}): Promise<GarbageCollectionReport> {
  const log = options.log ?? (() => {});
  const now = options.now ?? Date.now;
  const release = await storage.lockCollector();
  try {
    const report: GarbageCollectionReport = {
      recovered: await storage.recoverSweep(),
      manifests: 0,
      marked: 0,
      deleted: [],
      keptRecent: 0,
      uploadsExpired: 0,
      temporariesRemoved: 0,
    };
    if (report.recovered) log(`put back ${report.recovered} blob(s) an interrupted collection held`);
    const started = now();
    const cutoff = new Date(started - (options.graceMs ?? DEFAULT_GRACE_MS));

    const marked = new Set<string>();
    for (const repository of await storage.listRepositories()) {
      for (const record of await storage.listManifests(repository)) {
        report.manifests++;
        marked.add(record.digest);
        const digest = parseDigest(record.digest)!;
        const body = await storage.readBlob(digest, MAX_MANIFEST_BYTES);
        if (!body) {
          log(`${repository}@${record.digest}: the manifest's content is missing`);
          continue;
        }
        try {
          const manifest = parseManifest(body, record.mediaType);
          for (const d of [...manifest.blobs, ...manifest.manifests]) marked.add(d.text);
        } catch (err) {
          log(`${repository}@${record.digest}: cannot parse the manifest, marking only itself: ${(err as Error).message}`);
        }
      }
    }
    report.marked = marked.size;
    log(`marked ${marked.size} blob(s) from ${report.manifests} manifest(s)`);

    for await (const blob of storage.listBlobs()) {
      if (marked.has(blob.digest)) continue;
      if (blob.claimedAt.getTime() >= cutoff.getTime()) {
        report.keptRecent++;
        continue;
      }
      if (options.dryRun) {
        report.deleted.push(blob.digest);
        continue;
      }
      const outcome = await storage.sweepBlob(parseDigest(blob.digest)!, cutoff);
      if (outcome === 'deleted') report.deleted.push(blob.digest);
      else if (outcome === 'kept') report.keptRecent++;
    }
    log(`${options.dryRun ? 'would delete' : 'deleted'} ${report.deleted.length} blob(s); kept ${report.keptRecent} recent unreferenced`);

    const expiry = new Date(started - (options.uploadExpiryMs ?? DEFAULT_UPLOAD_EXPIRY_MS));
    for (const session of await storage.listUploads()) {
      if (session.updatedAt.getTime() >= expiry.getTime()) continue;
      report.uploadsExpired++;
      if (!options.dryRun) await storage.expireUpload(session.id);
    }
    if (!options.dryRun) report.temporariesRemoved = await storage.removeStaleTemporaries(expiry);
    if (report.uploadsExpired) log(`expired ${report.uploadsExpired} abandoned upload(s)`);
    return report;
  } finally {
    await release();
  }
}
