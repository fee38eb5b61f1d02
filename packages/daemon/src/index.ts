export { main, type MainOptions } from './main.js';
export { parseDaemonArgs, usage, UsageError, flagSpecs, type ParsedArgs } from './args.js';
export { readConfigFile, validateConfigObject, ConfigError } from './config-file.js';
export { mergeDaemonConfig, parseHost } from './merge-config.js';
export {
  defaultConfigFile,
  defaultHost,
  defaultSocket,
  defaults,
  type DaemonConfig,
  type DaemonSettings,
  type LogFormat,
  type LogLevel,
} from './daemon-config.js';
export { createLogger, type LoggerOptions } from './logger.js';
export { startDaemon, engineConfigFor, describePlugins, type DaemonEngine, type DaemonParts, type RunningDaemon } from './daemon.js';
export { loadThirdPartyPlugins, PluginLoadError } from './third-party-plugins.js';
export { prepareSocketPath, bindSocket, groupId } from './unix-socket.js';
export { writePidfile, removePidfile } from './pidfile.js';
