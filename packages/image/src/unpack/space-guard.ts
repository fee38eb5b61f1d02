import * as fs from 'node:fs';
import { refuse } from './root-resolver.js';

/** The share of a filesystem kept free (capped by `maxReserve`): a layer may not take the last of it. */
const reserveShare = 0.02;
const maxReserve = 1 << 30;

/**
 * Keeps a layer from filling a disk: each file's size is claimed, from its tar header,
 * before any of its bytes are written, and a file that would not fit in what the
 * filesystem holding `dir` has free (less a reserve of 2%, at most 1 GiB) is refused by
 * name. A decompression bomb (a few kilobytes of gzip declaring gigabytes of zeros) is
 * so refused before it writes, not when the disk is full.
 *
 * statfs is asked again only when the claims made since the last answer exceed it, so
 * a layer of many small files costs one statfs per few hundred megabytes. Lifecycle: one
 * guard per unpack or import, dropped at its end.
 */
export class SpaceGuard {
  private budget = -1;

  constructor(
    private readonly dir: string,
    /** Bytes to keep free; default 2% of the filesystem, at most 1 GiB. */
    private readonly reserve?: number,
  ) {}

  /** Account for `bytes` about to be written for `entry`; an InvalidArgument when they cannot fit. */
  claim(bytes: number, entry: string): void {
    if (bytes <= this.budget) {
      this.budget -= bytes;
      return;
    }
    const st = fs.statfsSync(this.dir);
    const free = st.bavail * st.bsize;
    const reserve = this.reserve ?? Math.min(st.blocks * st.bsize * reserveShare, maxReserve);
    this.budget = free - reserve;
    if (bytes > this.budget) {
      throw refuse(
        entry,
        `its ${bytes} bytes would not fit on the filesystem of ${this.dir} (${free} bytes free, ${Math.round(reserve)} kept in reserve)`,
      );
    }
    this.budget -= bytes;
  }
}
