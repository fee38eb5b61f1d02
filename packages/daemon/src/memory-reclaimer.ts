import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import type { Logger } from '@berth/core';

/**
 * V8's full garbage collection, callable without starting node with `--expose-gc`
 * (berthd may be started by a unit file that does not pass it): the flag is set at run
 * time and the function taken from a fresh context, where V8 installs it.
 */
export function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** V8's `gc` under --expose-gc, which takes options since V8 10. */
type ExposedGc = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;

/**
 * One collection of everything V8 can free, as it does under memory pressure
 * (`flavor: 'last-resort'`: full collections until nothing more is freed, the young
 * generation shrunk, and the pages kept pooled for reuse unmapped at once). Two plain
 * full collections a second apart left those pooled pages resident: measured after a
 * flood, V8's heap fell from 93 to 14 MiB while the resident set stayed at 148 MiB
 * until V8's own memory reducer ran, 10 s later.
 */
export function collectEverything(): void {
  (exposeGc() as ExposedGc)({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

export interface MemoryReclaimerOptions {
  /** True when the daemon is quiet enough for a collection's pause not to matter (few new connections lately); asked once per check. */
  quiet(): boolean;
  log: Logger;
  /** Between checks; default 10 s. */
  intervalMs?: number;
  /** Growth of the resident set over its floor that is worth a collection; default 16 MiB. */
  growthBytes?: number;
  /**
   * Gives malloc's free pages back to the kernel (`trimMalloc` of `@berth/native`), called
   * after each collection; without it only V8's heap is given back. The daemon passes it
   * in so that its tests never load the addon.
   */
  trimMalloc?: () => boolean;
  /** Tests replace these. */
  rss?: () => number;
  gc?: () => void;
}

/**
 * Gives memory back after a burst. V8 collects only when JavaScript allocates, so a
 * daemon that falls idle after a flood of connections keeps the flood's heap (and its
 * resident pages) indefinitely; and glibc keeps what the connections' native parts
 * (libuv handles, HTTP parsers, buffers) freed inside its arenas. Measured after a flood
 * of 6,000 sockets and 200 `/info` calls: 72 MiB idle, 148 MiB at the peak, still 148
 * MiB 10 s later, 104 MiB once V8 shrank its heap, 75 MiB after `malloc_trim`.
 *
 * Every `intervalMs` this looks at the resident set; when it has grown `growthBytes`
 * past its floor and the daemon is quiet, it collects everything V8 can free
 * (`collectEverything`), then trims malloc's arenas, and the result becomes the new
 * floor. Live memory (more containers) therefore costs one collection per 16 MiB of
 * growth, never a loop.
 *
 * Lifecycle: `start()` once the daemon serves (the floor is taken then), `stop()` at
 * shutdown; `check()` is one step, public for tests.
 */
export class MemoryReclaimer {
  private floor = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly rss: () => number;

  constructor(private readonly options: MemoryReclaimerOptions) {
    this.rss = options.rss ?? (() => process.memoryUsage.rss());
  }

  start(): void {
    this.floor = this.rss();
    this.timer = setInterval(() => this.check(), this.options.intervalMs ?? 10_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One check: collects and trims when memory grew past the floor and the daemon is quiet. Returns whether it did. */
  check(): boolean {
    // Asked at every check, so "quiet" always describes the last interval.
    const quiet = this.options.quiet();
    const before = this.rss();
    if (before < this.floor) this.floor = before;
    if (before - this.floor < (this.options.growthBytes ?? 16 * 1024 * 1024) || !quiet) return false;
    (this.options.gc ?? collectEverything)();
    const trimmed = this.options.trimMalloc?.() ?? false;
    const after = this.rss();
    this.floor = after;
    this.options.log.debug('gave memory back after a burst', {
      rssBeforeMiB: Math.round(before / 1048576),
      rssAfterMiB: Math.round(after / 1048576),
      mallocTrimmed: trimmed,
    });
    return true;
  }
}
