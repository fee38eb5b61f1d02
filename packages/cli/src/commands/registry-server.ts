import type { FlagValue, RegistryFlag } from '@berth/registry';
import type { FlagSpec, Flags } from '../argv.js';
import type { Command } from '../command.js';

/*
 * `berth registry serve` and `berth registry gc` run berth's registry server
 * (@berth/registry) in this process: the registry is not the engine, so it needs no
 * daemon (docs/architecture.md, "Who may import whom"). The package is required when one
 * of these verbs runs, never at the CLI's start-up, and the CLI bundle leaves it out
 * (scripts/bundle.js): `berth run` loads none of it.
 */

type RegistryModule = typeof import('@berth/registry');

function loadRegistry(): RegistryModule {
  return require('@berth/registry') as RegistryModule;
}

function flagSpecs(flags: readonly RegistryFlag[]): FlagSpec[] {
  return flags.map((f) => ({ long: f.long, kind: f.kind, help: f.help, ...(f.def !== undefined ? { def: f.def } : {}) }));
}

function flagValues(flags: Flags, specs: readonly RegistryFlag[]): FlagValue {
  return (long) => {
    const spec = specs.find((s) => s.long === long);
    if (!spec || !flags.has(long)) return undefined;
    return spec.kind === 'bool' ? flags.bool(long) : flags.string(long);
  };
}

/** `berth registry serve`: an OCI Distribution registry over a storage directory, until SIGINT or SIGTERM. */
export function registryServeCommand(): Command {
  const r = loadRegistry();
  return {
    name: 'serve',
    usage: '[OPTIONS]',
    summary: 'Run an OCI Distribution registry (push and pull images) in this process',
    flags: flagSpecs(r.SERVE_FLAGS),
    maxArgs: 0,
    async run(ctx, flags) {
      const options = r.serveOptions(flagValues(flags, r.SERVE_FLAGS));
      let unsubscribe = (): void => {};
      const stopped = new Promise<void>((resolve) => {
        unsubscribe = ctx.io.onSignal((signal) => {
          if (signal === 'SIGINT' || signal === 'SIGTERM') resolve();
        });
      });
      try {
        return await r.serveUntil(options, (line) => ctx.io.stdout.write(`${line}\n`), stopped);
      } finally {
        unsubscribe();
      }
    },
  };
}

/** `berth registry gc`: one garbage collection of a registry's storage directory. */
export function registryGcCommand(): Command {
  const r = loadRegistry();
  return {
    name: 'gc',
    usage: '[OPTIONS]',
    summary: "Delete the blobs no manifest references from a registry's storage (safe while it serves)",
    flags: flagSpecs(r.GC_FLAGS),
    maxArgs: 0,
    async run(ctx, flags) {
      return r.runGarbageCollection(flagValues(flags, r.GC_FLAGS), (line) => ctx.io.stdout.write(`${line}\n`));
    },
  };
}
