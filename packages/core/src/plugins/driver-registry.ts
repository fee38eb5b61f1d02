import { Conflict, Forbidden } from '../errors.js';

/** What a registry's listeners hear: a driver added or removed. */
export type DriverChangeListener<T> = (change: 'added' | 'removed', name: string, driver: T) => void;

/**
 * The drivers of one plugin kind, by name: what the engine's services look drivers up
 * in (`runtimes.get('runc')`). It reads like a `ReadonlyMap`, and it can learn a driver
 * after start-up (a Docker plugin discovered on a socket) or forget one; listeners hear
 * both. Lifecycle: the plugin host fills it while it initialises the plugins of its
 * kind, then the engine's services hold it for the engine's life; the host listens to
 * it, so a driver added later shows in the plugin statuses too.
 */
export interface DriverRegistry<T> extends ReadonlyMap<string, T> {
  /** The plugin kind it holds (`runtime`, `network`, ...). */
  readonly kind: string;
  /** Add a driver under `name`; a name already present is a Conflict. */
  add(name: string, driver: T): void;
  /** Forget a driver; false when there was none of that name. */
  remove(name: string): boolean;
  /** Called with each driver added or removed from now on; returns the unsubscribe function. */
  onChange(listener: DriverChangeListener<T>): () => void;
}

/**
 * The in-memory DriverRegistry the plugin host fills. It wraps a Map rather than
 * extending one, so nothing can `set` or `delete` past `add`/`remove` and their listeners.
 */
export class DriverMap<T> implements DriverRegistry<T> {
  private readonly drivers = new Map<string, T>();
  private readonly listeners = new Set<DriverChangeListener<T>>();

  /**
   * @param kind the plugin kind, for messages.
   * @param options.fixed when set, `add` is refused with this reason: the registry of a
   *   kind the engine chose one driver of at start-up (storage) learns none later.
   */
  constructor(
    readonly kind: string,
    private readonly options: { fixed?: string } = {},
  ) {}

  add(name: string, driver: T): void {
    if (this.options.fixed !== undefined) throw new Forbidden(`cannot add the ${this.kind} driver ${name}: ${this.options.fixed}`);
    this.addChosen(name, driver);
  }

  /** Add the driver chosen at start-up, even to a fixed registry (the plugin host's own use). */
  addChosen(name: string, driver: T): void {
    if (this.drivers.has(name)) throw new Conflict(`a ${this.kind} driver named ${name} is already registered`);
    this.drivers.set(name, driver);
    for (const l of [...this.listeners]) l('added', name, driver);
  }

  remove(name: string): boolean {
    const driver = this.drivers.get(name);
    if (driver === undefined) return false;
    this.drivers.delete(name);
    for (const l of [...this.listeners]) l('removed', name, driver);
    return true;
  }

  onChange(listener: DriverChangeListener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.drivers.size;
  }
  get(name: string): T | undefined {
    return this.drivers.get(name);
  }
  has(name: string): boolean {
    return this.drivers.has(name);
  }
  keys(): MapIterator<string> {
    return this.drivers.keys();
  }
  values(): MapIterator<T> {
    return this.drivers.values();
  }
  entries(): MapIterator<[string, T]> {
    return this.drivers.entries();
  }
  forEach(callback: (driver: T, name: string, registry: ReadonlyMap<string, T>) => void, thisArg?: unknown): void {
    for (const [name, driver] of this.drivers) callback.call(thisArg, driver, name, this);
  }
  [Symbol.iterator](): MapIterator<[string, T]> {
    return this.drivers[Symbol.iterator]();
  }
}
