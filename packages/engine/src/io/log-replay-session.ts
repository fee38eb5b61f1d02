import type { AttachSession, LogLine } from '@berth/core';

type OutputListener = (stream: 'stdout' | 'stderr', data: Buffer) => void;

/**
 * An attach with `logs=1`: the container's log replayed first, then (with `stream=1`)
 * the live session's output; without a live session it ends once the log is replayed,
 * which is what `attach?logs=1&stream=0` on an exited container expects. Live output
 * that arrives during the replay is held and delivered after it, so nothing comes twice
 * out of order. The replay starts when the first listener subscribes.
 */
export function logReplaySession(lines: AsyncIterable<LogLine>, live: AttachSession | undefined, tty: boolean): AttachSession {
  const listeners = new Set<OutputListener>();
  const held: Array<[stream: 'stdout' | 'stderr', data: Buffer]> = [];
  let replaying = true;
  let started = false;
  let detached = false;
  let resolveReplayed!: () => void;
  const replayed = new Promise<void>((resolve) => (resolveReplayed = resolve));
  const emit = (stream: 'stdout' | 'stderr', data: Buffer) => {
    for (const l of listeners) l(stream, data);
  };
  live?.onOutput((stream, data) => {
    if (replaying) held.push([stream, data]);
    else emit(stream, data);
  });
  const replay = async () => {
    try {
      for await (const line of lines) {
        if (detached) break;
        emit(line.stream, line.data);
      }
    } catch {
      // An unreadable log ends the replay; the live output still follows.
    }
    replaying = false;
    for (const [stream, data] of held.splice(0)) emit(stream, data);
    resolveReplayed();
  };
  const ended = replayed.then(() => (live && !detached ? live.ended : undefined));
  return {
    tty,
    ended,
    onOutput(listener) {
      listeners.add(listener);
      if (!started) {
        started = true;
        void replay();
      }
      return () => listeners.delete(listener);
    },
    writeStdin: (data) => live?.writeStdin(data),
    closeStdin: () => live?.closeStdin(),
    detach() {
      detached = true;
      live?.detach();
      if (!started) {
        started = true;
        void replay();
      }
    },
  };
}

/** An attach with neither `logs` nor `stream`: nothing to send, ended at once. */
export function emptySession(tty: boolean): AttachSession {
  return {
    tty,
    ended: Promise.resolve(),
    onOutput: () => () => {},
    writeStdin: () => {},
    closeStdin: () => {},
    detach: () => {},
  };
}
