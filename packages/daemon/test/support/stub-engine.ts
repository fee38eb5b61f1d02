import { EventBus, NotImplemented, type PluginStatus, type SystemInfo, type VersionInfo } from '@berth/core';
import type { EngineConfig } from '@berth/engine';
import type { DaemonEngine, DaemonParts } from '../../src/index.js';

/** An engine that answers version/info/plugins and records how it was made and closed. */
export class StubEngine {
  readonly events = new EventBus();
  closed = 0;
  constructor(readonly config: EngineConfig) {}
  readonly containers = new Proxy(
    {},
    {
      get: () => async () => {
        throw new NotImplemented('stub engine');
      },
    },
  );
  readonly images = new Proxy(
    {},
    {
      get: () => async () => {
        throw new NotImplemented('stub engine');
      },
    },
  );
  version(): VersionInfo {
    return {
      Platform: { Name: 'berth' },
      Components: [{ Name: 'Engine', Version: this.config.serverVersion ?? '?' }],
      Version: this.config.serverVersion ?? '?',
      ApiVersion: '1.41',
      MinAPIVersion: '1.12',
      GitCommit: '',
      GoVersion: '',
      Os: 'linux',
      Arch: 'amd64',
      KernelVersion: '',
      BuildTime: '',
    };
  }
  async info(): Promise<SystemInfo> {
    return { ServerVersion: this.config.serverVersion, DockerRootDir: this.config.dataRoot } as SystemInfo;
  }
  plugins(): PluginStatus[] {
    return this.config.plugins.map((p, i) => ({
      kind: p.kind,
      name: p.name,
      status: i === 1 ? 'skipped' : 'ok',
      reason: i === 1 ? 'not on this host' : '',
      description: p.description,
    }));
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

export function stubParts(made: StubEngine[] = []): DaemonParts {
  return {
    version: '9.9.9-test',
    builtinPlugins: [
      { kind: 'storage', name: 'stubfs', description: 'stub', init: () => ({}) as never },
      { kind: 'runtime', name: 'stubrun', description: 'stub', init: () => ({}) as never },
    ],
    async createEngine(config) {
      const e = new StubEngine(config);
      made.push(e);
      return e as unknown as DaemonEngine;
    },
  };
}
