import { Conflict } from '../errors.js';

/**
 * The drivers of one plugin kind, by name: what the engine's services look drivers up
 * in (`runtimes.get('runc')`). It reads like a `ReadonlyMap`, and it can learn a driver
 * after start-up (a Docker plugin discovered on a socket) or forget one; listeners hear
 * both. Lifecycle: the plugin host fills it while it initialises the plugins of its
 * kind, then the engine's services hold it for the engine's life.
 */
export interface DriverRegistry<T> extends ReadonlyMap<string, T> {
  /** The plugin kind it holds (`runtime`, `network`, ...). */
  readonly kind: string;
  /** Add a driver under `name`; a name already present is a Conflict. */
  add(name: string, driver: T): void;
  /** Forget a driver; false when there was none of that name. */
  remove(name: string): boolean;
  /** Called with each driver added or removed from now on; returns the unsubscribe function. */
  onChange(listener: (change: 'added' | 'removed', name: string, driver: T) => void): () => void;
}

/** The in-memory DriverRegistry the plugin host fills. */
export class DriverMap<T> extends Map<string, T> implements DriverRegistry<T> {
  private readonly listeners = new Set<(change: 'added' | 'removed', name: string, driver: T) => void>();

  constructor(readonly kind: string) {
    super();
  }

  add(name: string, driver: T): void {
    if (this.has(name)) throw new Conflict(`a ${this.kind} driver named ${name} is already registered`);
    this.set(name, driver);
    for (const l of [...this.listeners]) l('added', name, driver);
  }

  remove(name: string): boolean {
    const driver = this.get(name);
    if (driver === undefined) return false;
    this.delete(name);
    for (const l of [...this.listeners]) l('removed', name, driver);
    return true;
  }

  onChange(listener: (change: 'added' | 'removed', name: string, driver: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
