import { PassThrough, Readable } from 'node:stream';

/**
 * Split one stream into `count` streams that each see every byte, at the pace of the
 * slowest (so nothing piles up in memory). An error of the source reaches every
 * branch; `abort(err)` tears all of them down when one consumer gives up.
 */
export function tee(source: AsyncIterable<Uint8Array>, count = 2): { branches: PassThrough[]; abort(err: Error): void } {
  const input = Readable.from(source, { objectMode: false });
  const branches = Array.from({ length: count }, () => new PassThrough({ highWaterMark: 1 << 20 }));
  for (const branch of branches) {
    input.pipe(branch);
    // A consumer that already stopped has no listener left; its branch's error must not
    // become an uncaught exception. Consumers still reading see the error themselves.
    branch.on('error', () => {});
  }
  input.on('error', (err) => {
    for (const branch of branches) branch.destroy(err);
  });
  return {
    branches,
    abort(err: Error) {
      input.destroy(err);
      for (const branch of branches) branch.destroy(err);
    },
  };
}

/** Run one consumer per branch of `tee(source)`; if one fails, the others are stopped. */
export async function consumeTee<T extends unknown[]>(
  source: AsyncIterable<Uint8Array>,
  consumers: { [K in keyof T]: (stream: AsyncIterable<Buffer>) => Promise<T[K]> },
): Promise<T> {
  const { branches, abort } = tee(source, consumers.length);
  const runs = consumers.map((consume, i) =>
    consume(branches[i]!).catch((err: unknown) => {
      abort(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }),
  );
  const settled = await Promise.allSettled(runs);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  // Report the first consumer's own error, not the teardown errors it caused in others.
  if (failed) throw firstRealError(settled) ?? failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as T;
}

function firstRealError(settled: PromiseSettledResult<unknown>[]): unknown {
  const errors = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as unknown);
  return errors.find((e) => !(e instanceof Error && (e as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE')) ?? errors[0];
}
