// reflect-metadata must load before tsyringe, or tsyringe throws "requires a reflect
// polyfill". Plugins import the decorators from here so the order is always right.
import 'reflect-metadata';

export type { DependencyContainer, InjectionToken } from 'tsyringe';
export { container, inject, injectable, instanceCachingFactory, singleton } from 'tsyringe';
