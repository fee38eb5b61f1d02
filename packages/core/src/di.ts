// reflect-metadata must load before tsyringe, or tsyringe throws "requires a reflect
// polyfill". Plugins import the decorators from here so the order is always right.
import 'reflect-metadata';

export { container, inject, injectable, singleton, instanceCachingFactory } from 'tsyringe';
export type { DependencyContainer, InjectionToken } from 'tsyringe';
