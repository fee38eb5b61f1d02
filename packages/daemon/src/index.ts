export { flagSpecs, type ParsedArgs, parseDaemonArgs, UsageError, usage } from './args.js';
export { ConfigError, readConfigFile, validateConfigObject } from './config-file.js';
export { type DaemonEngine, type DaemonParts, describePlugins, engineConfigFor, type RunningDaemon, startDaemon } from './daemon.js';
export {
  type DaemonConfig,
  type DaemonSettings,
  defaultConfigFile,
  defaultHost,
  defaultSocket,
  defaults,
  type LogFormat,
  type LogLevel,
} from './daemon-config.js';
export { connectionBudget, openFileLimit } from './fd-limit.js';
export { createLogger, type LoggerOptions } from './logger.js';
export { type MainOptions, main } from './main.js';
export { collectEverything, exposeGc, MemoryReclaimer, type MemoryReclaimerOptions } from './memory-reclaimer.js';
export { mergeDaemonConfig, parseHost } from './merge-config.js';
export { defaultExitWaitMs, type PidfileOptions, removePidfile, writePidfile } from './pidfile.js';
export { loadThirdPartyPlugins, PluginLoadError } from './third-party-plugins.js';
export { acceptsConnections, bindSocket, groupId, prepareSocketPath } from './unix-socket.js';
