// reflect-metadata must load before tsyringe, or tsyringe throws "requires a reflect
// polyfill". Plugins import the decorators from here so the order is always right.
import 'reflect-metadata';
import { type DependencyContainer, container as globalContainer, instanceCachingFactory, Lifecycle } from 'tsyringe';

export type { DependencyContainer } from 'tsyringe';
export { inject, injectable } from 'tsyringe';

declare const tokenType: unique symbol;

/**
 * A dependency-injection token that carries the type of what it resolves to, so
 * `di.resolve(ImageServiceToken)` is an `ImageService` without a cast (the pattern of
 * VS Code's service identifiers). At run time it is a registered symbol
 * (`Symbol.for('berth.<name>')`), so two copies of `@berth/core` agree on it, and
 * tsyringe's `@inject(token)` takes it as it is.
 */
export type Token<T> = symbol & { readonly [tokenType]?: T };

/** The token named `berth.<name>`. Declare it beside the interface it stands for. */
export function token<T>(name: string): Token<T> {
  return Symbol.for(`berth.${name}`) as Token<T>;
}

/** The name a token was declared with, for messages. */
export function tokenName(t: Token<unknown>): string {
  return t.description ?? String(t);
}

// biome-ignore lint/suspicious/noExplicitAny: a constructor of any parameters, as tsyringe's own `constructor<T>`
type Constructor<T> = new (...args: any[]) => T;

/**
 * How a token gets its value. Every provider gives one instance per container, made on
 * first resolve: a service is a singleton of its engine, never of the process.
 * - `useValue`: this object (plugins' instances, the config).
 * - `useFactory`: built by a function of the container, for services with plain constructors.
 * - `useClass`: an `@injectable()` class whose constructor parameters each carry `@inject(token)`.
 */
export type Provider<T> = { useValue: T } | { useFactory: (di: ServiceContainer) => T } | { useClass: Constructor<T> };

/**
 * The engine's dependency-injection container: a typed face over one tsyringe child
 * container. Lifecycle: `createEngine` makes one per engine, registers the config, the
 * plugins' instances and a provider for every service, hands it to the embedder's
 * `configure` (which may `register` any token again: the last registration wins),
 * and only then resolves. Nothing is registered in tsyringe's global container.
 */
export class ServiceContainer {
  private constructor(
    /** The tsyringe container underneath, for `@injectable` classes and tsyringe's own API. */
    readonly tsyringe: DependencyContainer,
  ) {}

  /** An empty container of its own (a child of tsyringe's root that nothing registers in). */
  static create(): ServiceContainer {
    return new ServiceContainer(globalContainer.createChildContainer());
  }

  /** Register (or replace) what `token` resolves to. */
  register<T>(t: Token<T>, provider: Provider<T>): this {
    if ('useValue' in provider) this.tsyringe.register<T>(t, { useValue: provider.useValue });
    else if ('useFactory' in provider) {
      const factory = provider.useFactory;
      this.tsyringe.register<T>(t, { useFactory: instanceCachingFactory<T>(() => factory(this)) });
    } else this.tsyringe.register<T>(t, { useClass: provider.useClass }, { lifecycle: Lifecycle.ContainerScoped });
    return this;
  }

  /**
   * Register `provider` unless something is registered for `token` already: how a
   * composition root fills in whatever the embedder's `configure` left to it.
   */
  registerDefault<T>(t: Token<T>, provider: Provider<T>): this {
    return this.isRegistered(t) ? this : this.register(t, provider);
  }

  /** The value of `token`; an unregistered token throws with its name. */
  resolve<T>(t: Token<T>): T {
    if (!this.tsyringe.isRegistered(t, true)) throw new Error(`nothing is registered for ${tokenName(t)}`);
    return this.tsyringe.resolve<T>(t);
  }

  /**
   * A new instance of an `@injectable()` class with its constructor's tokens resolved from
   * this container, registered nowhere: how an embedder wraps a default service
   * (`useFactory: (di) => new Audited(di.build(ImageService))`).
   */
  build<T>(cls: Constructor<T>): T {
    return this.tsyringe.resolve(cls);
  }

  isRegistered(t: Token<unknown>): boolean {
    return this.tsyringe.isRegistered(t, true);
  }
}
