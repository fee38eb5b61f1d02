import { injectable, token } from '@berth/core';

/**
 * One lock per container, which every lifecycle operation (create's record, start,
 * stop, kill, restart, remove, the recording of an exit) takes while it decides and
 * changes the container's state. Waiting for a container to exit happens outside the
 * lock: the exit is recorded under it. The lock of a container nobody is waiting on is
 * forgotten, so the map holds only containers with an operation under way.
 */
@injectable()
export class ContainerLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Run `fn` once every earlier operation on container `id` has settled; the result is `fn`'s. */
  run<T>(id: string, fn: () => Promise<T> | T): Promise<T> {
    const before = this.tails.get(id) ?? Promise.resolve();
    const result = before.then(fn, fn) as Promise<T>;
    const tail = result.catch(() => undefined);
    this.tails.set(id, tail);
    void tail.then(() => {
      if (this.tails.get(id) === tail) this.tails.delete(id);
    });
    return result;
  }

  /** Whether an operation on `id` is under way or queued (for tests and diagnostics). */
  busy(id: string): boolean {
    return this.tails.has(id);
  }
}

export const ContainerLocksToken = token<ContainerLocks>('ContainerLocks');
