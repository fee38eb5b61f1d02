import type { Writable } from 'node:stream';
import { parseDaemonArgs, UsageError, usage } from './args.js';
import { ConfigError, readConfigFile } from './config-file.js';
import { type DaemonParts, type RunningDaemon, startDaemon } from './daemon.js';
import { defaultConfigFile } from './daemon-config.js';
import { createLogger } from './logger.js';
import { mergeDaemonConfig } from './merge-config.js';
import { storageMigrateMain } from './storage-migrate.js';
import { PluginLoadError } from './third-party-plugins.js';

export interface MainOptions {
  /** Replaces the engine and the built-in plugins (tests); by default the real ones are loaded. */
  parts?: DaemonParts;
  stdout?: Writable;
  stderr?: Writable;
  /** Called once the daemon serves; tests use it to stop it. */
  onStarted?(daemon: RunningDaemon): void;
  /** Called on the third SIGINT/SIGTERM, when the operator insists. Default: process.exit. */
  forceExit?(code: number): void;
}

/** Loaded only when no parts are injected, so tests never load the engine or its native addon. */
async function realParts(): Promise<DaemonParts> {
  const [{ createEngine }, { builtinPlugins }, { berthVersion }, { trimMalloc }] = await Promise.all([
    import('@berth/engine'),
    import('./builtin-plugins.js'),
    import('./version.js'),
    import('@berth/native'),
  ]);
  return { createEngine, builtinPlugins, version: berthVersion, trimMalloc };
}

/**
 * berthd's whole life: parse flags, read daemon.json, start, serve until SIGINT or
 * SIGTERM, shut down. Resolves to the exit code (0 after a clean shutdown, 1 when it
 * could not start); never calls process.exit itself except on a third signal.
 */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  // `berthd storage migrate …`: an offline operation on the data root, not a daemon.
  if (argv[0] === 'storage' && argv[1] === 'migrate') {
    return storageMigrateMain(argv.slice(2), { stdout, stderr });
  }
  let parsed: ReturnType<typeof parseDaemonArgs>;
  try {
    parsed = parseDaemonArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    stderr.write(`berthd: ${err.message}\nSee 'berthd --help'.\n`);
    return 1;
  }
  if (parsed.help) {
    stdout.write(usage());
    return 0;
  }
  if (parsed.version) {
    const version = options.parts?.version ?? (await import('./version.js')).berthVersion;
    stdout.write(`berthd version ${version}\n`);
    return 0;
  }

  const configFile = parsed.configFile ?? defaultConfigFile;
  let config: ReturnType<typeof mergeDaemonConfig>;
  let fileWarnings: string[] = [];
  let fileFound = false;
  try {
    const file = await readConfigFile(configFile);
    fileFound = file.found;
    fileWarnings = file.warnings;
    config = mergeDaemonConfig(parsed.settings, file.settings, file.found ? configFile : undefined);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    stderr.write(`berthd: ${err.message}\n`);
    return 1;
  }
  const log = createLogger({ level: config.logLevel, format: config.logFormat, write: (line) => stderr.write(line) });
  for (const w of fileWarnings) log.warn(w);
  log.debug(fileFound ? `read ${configFile}` : `no config file at ${configFile}; using flags and defaults`);

  let daemon: RunningDaemon;
  try {
    daemon = await startDaemon(config, options.parts ?? (await realParts()), log);
  } catch (err) {
    const expected = err instanceof PluginLoadError || err instanceof ConfigError;
    log.error(`berthd failed to start: ${(err as Error).message}`, expected ? undefined : { stack: (err as Error).stack });
    return 1;
  }

  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        log.info(`received ${signal}`);
        daemon.stop().then(
          () => {
            detach();
            resolve(0);
          },
          (err: unknown) => {
            log.error('shutdown failed', { error: String(err) });
            detach();
            resolve(1);
          },
        );
      } else if (signals === 2) {
        log.warn(`received ${signal} again; shutdown in progress, one more forces berthd to quit`);
      } else {
        log.error(`received ${signal} a third time; quitting now`);
        (options.forceExit ?? ((code) => process.exit(code)))(1);
      }
    };
    const onHup = () => log.warn('received SIGHUP: configuration reload is not supported yet; ignored');
    const detach = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onHup);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onHup);
    options.onStarted?.(daemon);
  });
}
