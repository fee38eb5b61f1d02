import { EventEmitter } from 'eventemitter3';

/**
 * An event as the Docker Engine API's `/events` reports it. `type` and `action`
 * follow Docker's names (`container`/`start`, `image`/`tag`, ...); `attributes`
 * carries the actor's details (name, image, exitCode, ...).
 */
export interface EngineEvent {
  type: 'container' | 'image' | 'volume' | 'network' | 'plugin' | 'daemon';
  action: string;
  /** The id of the object the event is about. */
  id: string;
  attributes: Record<string, string>;
  /** Nanoseconds since the epoch, as a bigint to keep full precision. */
  timeNano: bigint;
}

/** The events the engine emits, keyed by `<type>.<action>` plus the catch-all `event`. */
export interface EngineEventMap {
  event: [EngineEvent];
  'container.create': [EngineEvent];
  'container.start': [EngineEvent];
  'container.die': [EngineEvent];
  'container.stop': [EngineEvent];
  'container.kill': [EngineEvent];
  'container.oom': [EngineEvent];
  'container.destroy': [EngineEvent];
  'container.attach': [EngineEvent];
  'container.restart': [EngineEvent];
  'image.import': [EngineEvent];
  'image.load': [EngineEvent];
  'image.tag': [EngineEvent];
  'image.untag': [EngineEvent];
  'image.delete': [EngineEvent];
  'image.save': [EngineEvent];
  'volume.create': [EngineEvent];
  'volume.destroy': [EngineEvent];
  'volume.mount': [EngineEvent];
  'volume.unmount': [EngineEvent];
  'network.connect': [EngineEvent];
  'network.disconnect': [EngineEvent];
  'plugin.skip': [EngineEvent];
}

/**
 * The engine's typed event bus. Services publish with `publish()`, which emits the
 * event both under its own `<type>.<action>` key and under `event`, so a listener of
 * the API's `/events` stream subscribes once.
 */
export class EventBus extends EventEmitter<EngineEventMap> {
  publish(type: EngineEvent['type'], action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    const now = process.hrtime.bigint() - hrtimeOrigin + epochOriginNs;
    const event: EngineEvent = { type, action, id, attributes, timeNano: now };
    const key = `${type}.${action}` as keyof EngineEventMap;
    if (key in knownKeys) this.emit(key as 'container.start', event);
    this.emit('event', event);
    return event;
  }
}

// A monotonic clock anchored once to wall time gives ordered nanosecond stamps.
const hrtimeOrigin = process.hrtime.bigint();
const epochOriginNs = BigInt(Date.now()) * 1_000_000n;
const knownKeys: Record<string, true> = Object.fromEntries(
  [
    'container.create',
    'container.start',
    'container.die',
    'container.stop',
    'container.kill',
    'container.oom',
    'container.destroy',
    'container.attach',
    'container.restart',
    'image.import',
    'image.load',
    'image.tag',
    'image.untag',
    'image.delete',
    'volume.create',
    'volume.destroy',
    'volume.mount',
    'volume.unmount',
    'image.save',
    'network.connect',
    'network.disconnect',
    'plugin.skip',
  ].map((k) => [k, true]),
);
