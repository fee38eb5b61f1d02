import type { EngineEvent } from '@berth/core';
import type { RequestContext } from '../context.js';
import { checkEventFilters, dockerEventLine, eventMatches } from '../events/docker-event.js';
import { filtersParam, timeParam } from '../query.js';
import type { RouteModule } from '../route-module.js';

/** A client that stops reading while events keep coming is cut off past this much buffered output. */
const maxBufferedEventBytes = 8 * 1024 * 1024;

const maxTimerMs = 2 ** 31 - 1;

function toNs(seconds: number): bigint {
  return BigInt(Math.round(seconds * 1e6)) * 1000n;
}

/**
 * `GET /events`: replays the remembered events from `since`, then streams live ones
 * as they are published, one JSON object per chunk, until `until` or until the client
 * goes away. With an `until` in the past it answers the replay and ends, like dockerd.
 */
function events(ctx: RequestContext): void {
  const { res, query, scope } = ctx;
  const since = timeParam(query, 'since');
  const until = timeParam(query, 'until');
  const filters = filtersParam(query);
  checkEventFilters(filters);
  const untilNs = until === undefined ? undefined : toNs(until);
  const nowNs = BigInt(Date.now()) * 1_000_000n;

  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();

  // Snapshot and subscription happen in the same tick: no event is lost or sent twice.
  const replay = since === undefined ? [] : scope.eventHistory.between(toNs(since), untilNs);
  for (const e of replay) if (eventMatches(e, filters)) res.write(dockerEventLine(e));

  if (untilNs !== undefined && untilNs <= nowNs) {
    res.end();
    return;
  }

  const bus = scope.engine.events;
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    bus.off('event', onEvent);
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const onEvent = (e: EngineEvent) => {
    if (untilNs !== undefined && e.timeNano > untilNs) return;
    if (!eventMatches(e, filters)) return;
    if (res.writableLength > maxBufferedEventBytes) {
      stop();
      res.destroy();
      return;
    }
    res.write(dockerEventLine(e));
  };
  bus.on('event', onEvent);
  res.once('close', stop);
  if (untilNs !== undefined) {
    // setTimeout holds at most ~24.8 days; a later `until` re-arms on the way.
    const arm = () => {
      const left = Number((untilNs - BigInt(Date.now()) * 1_000_000n) / 1_000_000n) + 1;
      timer = setTimeout(
        left > maxTimerMs
          ? arm
          : () => {
              stop();
              res.end();
            },
        Math.min(Math.max(left, 0), maxTimerMs),
      );
    };
    arm();
  }
}

/** `/events`: the engine's event stream in Docker's format. */
export const eventRoutes: RouteModule = {
  name: 'events',
  register(routes) {
    routes.add('GET', '/events', events);
  },
};
