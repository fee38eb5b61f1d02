import { createHash } from 'node:crypto';
import { peek } from '@berth/image';
import { ContextIndex, type IndexedTar } from './context-index.js';
import type { TarSpool } from './tar-spool.js';

/** One context read lately: the sha256 of its tar, its first bytes, and what indexing it gave. */
interface RecentIndex extends IndexedTar {
  digest: string;
  /** The names whose content was kept (the Dockerfile and ignore files asked for). */
  wanted: string;
  /** Its first `prefixBytes` bytes (all of it, when shorter). */
  prefix: Buffer;
}

/**
 * The indexes of the last contexts read, by the sha256 of their tar. A rebuild sends the
 * same bytes again (the docker CLI writes the same tar for the same files and mtimes),
 * and indexing them (each header decoded, each file hashed: most of what berthd spent
 * on a cached rebuild of 1,000 small files) gives the same index, so it is taken again.
 *
 * The bytes decide, never a guess: a context whose first bytes are those of one read
 * lately is only hashed and kept as it arrives; when the whole digest matches, the index
 * is that one's; when not, the kept bytes are indexed then (after the upload rather than
 * during it). Any other context is indexed as it arrives, as before, and remembered.
 * The indexes are read-only once made. Holds `capacity` contexts of at most
 * `maxEntries` entries each.
 *
 * Lifecycle: the engine makes one (its `RecentIndexesToken`) and hands it to every
 * `POST /build` context (IndexedContextOptions.recentIndexes); it goes with the engine.
 * Memory only: nothing to close.
 */
export class RecentIndexes {
  private readonly entries: RecentIndex[] = [];
  private static readonly capacity = 2;
  /** About 300 bytes an entry: two indexes of this many hold a few MiB. */
  private static readonly maxEntries = 20_000;
  private static readonly prefixBytes = 64 << 10;

  async read(source: AsyncIterable<Buffer>, spool: TarSpool, wantedNames: ReadonlySet<string>): Promise<IndexedTar> {
    const wanted = [...wantedNames].sort().join('\0');
    const keep = (name: string) => wantedNames.has(name);
    // Shorter than prefixBytes: the whole context (peek reads that much unless it ends first).
    const { head, stream } = await peek(source, RecentIndexes.prefixBytes);
    const prefix = head.subarray(0, RecentIndexes.prefixBytes);
    const hash = createHash('sha256');
    const seen = this.entries.find((e) => e.wanted === wanted && e.prefix.equals(prefix));
    let result: IndexedTar;
    if (seen) {
      try {
        for await (const chunk of stream) {
          hash.update(chunk);
          await spool.write(chunk);
        }
      } finally {
        await spool.end();
      }
      const digest = hash.digest('hex');
      if (digest === seen.digest) {
        this.remember(seen);
        return seen;
      }
      result = await ContextIndex.read(spool.open(), undefined, keep);
      this.remember({ ...result, digest, wanted, prefix: Buffer.from(prefix) });
      return result;
    }
    async function* hashed(): AsyncGenerator<Buffer> {
      for await (const chunk of stream) {
        hash.update(chunk);
        yield chunk;
      }
    }
    result = await ContextIndex.read(hashed(), spool, keep);
    this.remember({ ...result, digest: hash.digest('hex'), wanted, prefix: Buffer.from(prefix) });
    return result;
  }

  private remember(entry: RecentIndex): void {
    const at = this.entries.indexOf(entry);
    if (at >= 0) this.entries.splice(at, 1);
    if (entry.index.size > RecentIndexes.maxEntries) return;
    this.entries.unshift(entry);
    this.entries.length = Math.min(this.entries.length, RecentIndexes.capacity);
  }
}
