import { type EngineEvent, type Filters, InvalidArgument } from '@berth/core';

/**
 * An engine event as one line of Docker's `/events` stream: one JSON object per event.
 * Container and image events also carry the legacy `status`/`id`/`from` fields old
 * clients read. `timeNano` is written as an exact integer (a JS number would round it).
 */
export function dockerEventLine(event: EngineEvent): string {
  const time = event.timeNano / 1_000_000_000n;
  const head: Record<string, unknown> = {};
  if (event.type === 'container' || event.type === 'image') {
    head.status = event.action;
    head.id = event.id;
    if (event.type === 'container' && event.attributes.image !== undefined) head.from = event.attributes.image;
  }
  head.Type = event.type;
  head.Action = event.action;
  head.Actor = { ID: event.id, Attributes: event.attributes };
  head.scope = 'local';
  head.time = Number(time);
  const json = JSON.stringify(head);
  return `${json.slice(0, -1)},"timeNano":${event.timeNano.toString()}}\n`;
}

const knownFilters = new Set([
  'config',
  'container',
  'daemon',
  'event',
  'image',
  'label',
  'network',
  'node',
  'plugin',
  'scope',
  'secret',
  'service',
  'type',
  'volume',
]);

/** Rejects filter keys dockerd does not know, as dockerd does (400). */
export function checkEventFilters(filters: Filters | undefined): void {
  if (!filters) return;
  for (const key of Object.keys(filters)) {
    if (!knownFilters.has(key)) throw new InvalidArgument(`invalid filter '${key}'`);
  }
}

/**
 * Whether an event passes `docker events --filter`: every given key must match; within
 * a key any value may (`label`: every value). Actors match by a prefix of their id or
 * name, like dockerd; `label` matches the event's attributes (a container's events carry
 * its labels).
 */
export function eventMatches(event: EngineEvent, filters: Filters | undefined): boolean {
  if (!filters) return true;
  for (const [key, values] of Object.entries(filters)) {
    if (values.length === 0) continue;
    if (!matchesKey(event, key, values)) return false;
  }
  return true;
}

function matchesKey(event: EngineEvent, key: string, values: string[]): boolean {
  switch (key) {
    case 'type':
      return values.includes(event.type);
    case 'event':
      return matchesAction(event.action, values);
    case 'scope':
      return values.includes('local');
    case 'container':
    case 'network':
    case 'volume':
    case 'plugin':
    case 'daemon':
      return event.type === key && matchesActor(event, values);
    case 'image':
      return matchesImage(event, values);
    case 'label':
      return values.every((v) => {
        const eq = v.indexOf('=');
        if (eq === -1) return event.attributes[v] !== undefined;
        return event.attributes[v.slice(0, eq)] === v.slice(eq + 1);
      });
    default:
      // node, service, secret, config: swarm objects berth never emits.
      return false;
  }
}

/** Actions that carry a detail after a colon (`exec_start: sh -c true`, `health_status: healthy`). */
const actionsWithDetail = new Set(['health_status', 'exec_create', 'exec_start']);

/**
 * `--filter event=`, as dockerd matches it: the whole action exactly (`event=die`,
 * `event=health_status: healthy`), except that once the filter names one of the actions
 * with a detail without it (`event=exec_start`), every value of the filter matches as a
 * prefix of the action (moby's events filter, its #25798).
 */
function matchesAction(action: string, values: string[]): boolean {
  if (values.some((v) => actionsWithDetail.has(v))) return values.some((v) => action.startsWith(v));
  return values.includes(action);
}

/** An actor named by a prefix of its id or of its name, as dockerd's fuzzy match. */
function matchesActor(event: EngineEvent, values: string[]): boolean {
  const name = event.attributes.name;
  return values.some((v) => event.id.startsWith(v) || name?.startsWith(v) === true);
}

function withoutLatest(ref: string): string {
  return ref.endsWith(':latest') ? ref.slice(0, -7) : ref;
}

function matchesImage(event: EngineEvent, values: string[]): boolean {
  const candidates: string[] = [];
  if (event.type === 'image') {
    candidates.push(event.id);
    if (event.attributes.name !== undefined) candidates.push(event.attributes.name);
  } else if (event.type === 'container' && event.attributes.image !== undefined) {
    candidates.push(event.attributes.image);
  } else {
    return false;
  }
  return values.some((v) => {
    const want = withoutLatest(v);
    return candidates.some((c) => withoutLatest(c) === want || c === v || (v.startsWith('sha256:') && c.startsWith(v)));
  });
}
