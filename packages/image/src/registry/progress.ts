import type { ProgressMessage } from '@berth/core';

const barWidth = 50;
const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** A size as Docker prints it in progress lines: decimal units, 4 significant digits (`19.97kB`, `1.984MB`, `98B`). */
export function humanSize(bytes: number): string {
  let size = bytes;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit++;
  }
  return `${Number(size.toPrecision(4))}${units[unit]}`;
}

/**
 * The `progress` text of a line, as dockerd renders it for clients that print it as is:
 * a 50-wide bar and `current/total` (`[=====>      ]  19.97kB/1.984MB`). The bar is full
 * when `current` passes `total` (a push counts uncompressed bytes against a compressed total).
 */
export function progressBar(current: number, total: number): string {
  if (total <= 0) return `${humanSize(current)}`.padStart(8);
  const filled = Math.min(barWidth, Math.floor((barWidth * current) / total));
  const bar = `[${'='.repeat(filled)}>${' '.repeat(barWidth - filled)}] `;
  return `${bar}${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

/** A progress line of the layer `id`: `{"status","id","progressDetail":{current,total},"progress"}`. */
export function layerProgress(status: string, id: string, current: number, total: number): ProgressMessage {
  return { status, progressDetail: { current, total }, progress: progressBar(current, total), id };
}

/** A status line of the layer `id` with no counts (`Pull complete`). */
export function layerStatus(status: string, id: string): ProgressMessage {
  return { status, progressDetail: {}, id };
}

/**
 * Passes byte counts on as progress lines, at most one per `intervalMs` (and always
 * the last), so a fast transfer does not flood the stream with a line per chunk.
 */
export class ProgressThrottle {
  private last = 0;

  constructor(
    private readonly emit: (current: number) => void,
    private readonly intervalMs = 100,
  ) {}

  update(current: number, final = false): void {
    const now = Date.now();
    if (!final && now - this.last < this.intervalMs) return;
    this.last = now;
    this.emit(current);
  }
}
