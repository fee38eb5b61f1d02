/** Milliseconds since `since` (a performance.now() reading), to 0.1 ms: for the debug log's phase timings. */
export function elapsed(since: number): number {
  return Math.round((performance.now() - since) * 10) / 10;
}
