import type { BerthClient } from '@berth/client';
import { type Command, type CommandContext, execute, PROG } from './command.js';
import { type CliIo, processIo } from './io.js';

export { flushOutput } from './io.js';

import { CLI_VERSION } from './version.js';

/*
 * Start-up time is part of `berth run`'s latency, so this file imports almost nothing:
 * each command's module, and the client, are required only when that command runs.
 */

type Loader = () => Command;

const load = {
  run: () => (require('./commands/run.js') as typeof import('./commands/run.js')).runCommand,
  create: () => (require('./commands/run.js') as typeof import('./commands/run.js')).createCommand,
  start: () => (require('./commands/start.js') as typeof import('./commands/start.js')).startCommand,
  exec: () => (require('./commands/exec.js') as typeof import('./commands/exec.js')).execCommand,
  attach: () => (require('./commands/attach.js') as typeof import('./commands/attach.js')).attachCommand,
  stop: () => (require('./commands/lifecycle.js') as typeof import('./commands/lifecycle.js')).stopCommand,
  kill: () => (require('./commands/lifecycle.js') as typeof import('./commands/lifecycle.js')).killCommand,
  rm: () => (require('./commands/lifecycle.js') as typeof import('./commands/lifecycle.js')).rmCommand,
  wait: () => (require('./commands/lifecycle.js') as typeof import('./commands/lifecycle.js')).waitCommand,
  ps: () => (require('./commands/ps.js') as typeof import('./commands/ps.js')).psCommand,
  pause: () => (require('./commands/container-changes.js') as typeof import('./commands/container-changes.js')).pauseCommand,
  unpause: () => (require('./commands/container-changes.js') as typeof import('./commands/container-changes.js')).unpauseCommand,
  rename: () => (require('./commands/container-changes.js') as typeof import('./commands/container-changes.js')).renameCommand,
  update: () => (require('./commands/container-changes.js') as typeof import('./commands/container-changes.js')).updateCommand,
  top: () => (require('./commands/container-changes.js') as typeof import('./commands/container-changes.js')).topCommand,
  port: () => (require('./commands/port.js') as typeof import('./commands/port.js')).portCommand,
  stats: () => (require('./commands/stats.js') as typeof import('./commands/stats.js')).statsCommand,
  prune: () => (require('./commands/container-changes.js') as typeof import('./commands/container-changes.js')).pruneCommand,
  events: () => (require('./commands/events.js') as typeof import('./commands/events.js')).eventsCommand,
  logs: () => (require('./commands/logs.js') as typeof import('./commands/logs.js')).logsCommand,
  inspect: () => (require('./commands/inspect.js') as typeof import('./commands/inspect.js')).inspectCommand,
  images: () => (require('./commands/images.js') as typeof import('./commands/images.js')).imagesCommand,
  rmi: () => (require('./commands/images.js') as typeof import('./commands/images.js')).rmiCommand,
  tag: () => (require('./commands/images.js') as typeof import('./commands/images.js')).tagCommand,
  imageInspect: () => (require('./commands/inspect.js') as typeof import('./commands/inspect.js')).imageInspectCommand,
  containerInspect: () => (require('./commands/inspect.js') as typeof import('./commands/inspect.js')).containerInspectCommand,
  import: () => (require('./commands/image-io.js') as typeof import('./commands/image-io.js')).importCommand,
  load: () => (require('./commands/image-io.js') as typeof import('./commands/image-io.js')).loadCommand,
  build: () => (require('./commands/build.js') as typeof import('./commands/build.js')).buildCommand,
  pull: () => (require('./commands/registry.js') as typeof import('./commands/registry.js')).pullCommand,
  push: () => (require('./commands/registry.js') as typeof import('./commands/registry.js')).pushCommand,
  login: () => (require('./commands/registry.js') as typeof import('./commands/registry.js')).loginCommand,
  logout: () => (require('./commands/registry.js') as typeof import('./commands/registry.js')).logoutCommand,
  save: () => (require('./commands/image-io.js') as typeof import('./commands/image-io.js')).saveCommand,
  version: () => (require('./commands/system.js') as typeof import('./commands/system.js')).versionCommand,
  info: () => (require('./commands/system.js') as typeof import('./commands/system.js')).infoCommand,
  history: () => (require('./commands/disk-usage.js') as typeof import('./commands/disk-usage.js')).historyCommand,
  imagePrune: () => (require('./commands/disk-usage.js') as typeof import('./commands/disk-usage.js')).imagePruneCommand,
  systemDf: () => (require('./commands/disk-usage.js') as typeof import('./commands/disk-usage.js')).systemDfCommand,
  systemPrune: () => (require('./commands/disk-usage.js') as typeof import('./commands/disk-usage.js')).systemPruneCommand,
  builderPrune: () => (require('./commands/disk-usage.js') as typeof import('./commands/disk-usage.js')).builderPruneCommand,
  networkCreate: () => (require('./commands/network.js') as typeof import('./commands/network.js')).networkCreateCommand,
  networkLs: () => (require('./commands/network.js') as typeof import('./commands/network.js')).networkLsCommand,
  networkInspect: () => (require('./commands/network.js') as typeof import('./commands/network.js')).networkInspectCommand,
  networkRm: () => (require('./commands/network.js') as typeof import('./commands/network.js')).networkRmCommand,
  networkPrune: () => (require('./commands/network.js') as typeof import('./commands/network.js')).networkPruneCommand,
  networkConnect: () => (require('./commands/network.js') as typeof import('./commands/network.js')).networkConnectCommand,
  volumeCreate: () => (require('./commands/volume.js') as typeof import('./commands/volume.js')).volumeCreateCommand,
  volumeLs: () => (require('./commands/volume.js') as typeof import('./commands/volume.js')).volumeLsCommand,
  volumeInspect: () => (require('./commands/volume.js') as typeof import('./commands/volume.js')).volumeInspectCommand,
  volumeRm: () => (require('./commands/volume.js') as typeof import('./commands/volume.js')).volumeRmCommand,
  volumePrune: () => (require('./commands/volume.js') as typeof import('./commands/volume.js')).volumePruneCommand,
  networkDisconnect: () => (require('./commands/network.js') as typeof import('./commands/network.js')).networkDisconnectCommand,
  pluginsLs: () => (require('./commands/system.js') as typeof import('./commands/system.js')).pluginsLsCommand,
  registryServe: () => (require('./commands/registry-server.js') as typeof import('./commands/registry-server.js')).registryServeCommand(),
  storageMigrate: () => (require('./commands/storage.js') as typeof import('./commands/storage.js')).storageMigrateCommand,
  registryGc: () => (require('./commands/registry-server.js') as typeof import('./commands/registry-server.js')).registryGcCommand(),
} satisfies Record<string, Loader>;

/** Top-level verbs, in the order `berth --help` lists them. */
const TOP: Array<[string, Loader, string]> = [
  ['run', load.run, 'Create and run a new container from an image'],
  ['create', load.create, 'Create a new container'],
  ['start', load.start, 'Start one or more stopped containers'],
  ['exec', load.exec, 'Execute a command in a running container'],
  ['attach', load.attach, 'Attach local standard input, output, and error streams to a running container'],
  ['stop', load.stop, 'Stop one or more running containers'],
  ['kill', load.kill, 'Kill one or more running containers'],
  ['rm', load.rm, 'Remove one or more containers'],
  ['wait', load.wait, 'Block until one or more containers stop, then print their exit codes'],
  ['ps', load.ps, 'List containers'],
  ['pause', load.pause, 'Pause all processes within one or more containers'],
  ['unpause', load.unpause, 'Unpause all processes within one or more containers'],
  ['rename', load.rename, 'Rename a container'],
  ['update', load.update, 'Update configuration of one or more containers'],
  ['top', load.top, 'Display the running processes of a container'],
  ['port', load.port, 'List port mappings or a specific mapping for the container'],
  ['stats', load.stats, 'Display a live stream of container(s) resource usage statistics'],
  ['logs', load.logs, 'Fetch the logs of a container'],
  ['events', load.events, 'Get real time events from the server'],
  ['inspect', load.inspect, 'Return low-level information on berth objects'],
  ['history', load.history, 'Show the history of an image'],
  ['build', load.build, 'Build an image from a Dockerfile'],
  ['images', load.images, 'List images'],
  ['rmi', load.rmi, 'Remove one or more images'],
  ['tag', load.tag, 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE'],
  ['import', load.import, 'Import the contents from a tarball to create a filesystem image'],
  ['load', load.load, 'Load an image from a tar archive or STDIN'],
  ['pull', load.pull, 'Download an image from a registry'],
  ['push', load.push, 'Upload an image to a registry'],
  ['login', load.login, 'Authenticate to a registry'],
  ['logout', load.logout, 'Log out from a registry'],
  ['save', load.save, 'Save one or more images to a tar archive (streamed to STDOUT by default)'],
  ['version', load.version, 'Show the berth version information'],
  ['info', load.info, 'Display system-wide information'],
];

/** Management commands (`berth container ls`) and their verbs. */
const GROUPS: Record<string, { summary: string; verbs: Record<string, Loader> }> = {
  container: {
    summary: 'Manage containers',
    verbs: {
      run: load.run,
      create: load.create,
      start: load.start,
      exec: load.exec,
      attach: load.attach,
      stop: load.stop,
      kill: load.kill,
      rm: load.rm,
      wait: load.wait,
      ls: load.ps,
      list: load.ps,
      ps: load.ps,
      logs: load.logs,
      inspect: load.containerInspect,
      pause: load.pause,
      unpause: load.unpause,
      rename: load.rename,
      update: load.update,
      top: load.top,
      port: load.port,
      stats: load.stats,
      prune: load.prune,
    },
  },
  image: {
    summary: 'Manage images',
    verbs: {
      build: load.build,
      ls: load.images,
      list: load.images,
      rm: load.rmi,
      tag: load.tag,
      import: load.import,
      load: load.load,
      pull: load.pull,
      push: load.push,
      save: load.save,
      inspect: load.imageInspect,
      history: load.history,
      prune: load.imagePrune,
    },
  },
  network: {
    summary: 'Manage networks',
    verbs: {
      create: load.networkCreate,
      ls: load.networkLs,
      list: load.networkLs,
      inspect: load.networkInspect,
      rm: load.networkRm,
      remove: load.networkRm,
      prune: load.networkPrune,
      connect: load.networkConnect,
      disconnect: load.networkDisconnect,
    },
  },
  volume: {
    summary: 'Manage volumes',
    verbs: {
      create: load.volumeCreate,
      ls: load.volumeLs,
      list: load.volumeLs,
      inspect: load.volumeInspect,
      rm: load.volumeRm,
      remove: load.volumeRm,
      prune: load.volumePrune,
    },
  },
  plugins: {
    summary: "List berthd's plugins (storage, network, volume, runtime, ipam, discovery)",
    verbs: { ls: load.pluginsLs, list: load.pluginsLs },
  },
  registry: { summary: "Run berth's image registry, collect its garbage", verbs: { serve: load.registryServe, gc: load.registryGc } },
  storage: { summary: "Manage the data root's storage driver", verbs: { migrate: load.storageMigrate } },
  system: { summary: 'Manage berth', verbs: { info: load.info, events: load.events, df: load.systemDf, prune: load.systemPrune } },
  builder: { summary: 'Manage builds', verbs: { build: load.build, prune: load.builderPrune } },
};
GROUPS.plugin = GROUPS.plugins!;

function mainHelp(): string {
  const width = 12;
  const verbs = TOP.map(([name, , summary]) => `  ${name.padEnd(width)}${summary}`).join('\n');
  const groups = Object.entries(GROUPS)
    .filter(([name]) => name !== 'plugin')
    .map(([name, g]) => `  ${name.padEnd(width)}${g.summary}`)
    .join('\n');
  return `
Usage:  ${PROG} [OPTIONS] COMMAND

A container engine that speaks the Docker Engine API

Commands:
${verbs}

Management Commands:
${groups}

Global Options:
  -H, --host string   Daemon socket to connect to (unix:///path; default $BERTH_HOST, $DOCKER_HOST or unix:///run/berth/berth.sock)
  -v, --version       Print version information and quit
      --help          Print usage

Run '${PROG} COMMAND --help' for more information on a command.
`;
}

function groupHelp(name: string): string {
  const g = GROUPS[name]!;
  const verbs = Object.keys(g.verbs)
    .map((v) => `  ${v}`)
    .join('\n');
  return `\nUsage:  ${PROG} ${name} COMMAND\n\n${g.summary}\n\nCommands:\n${verbs}\n\nRun '${PROG} ${name} COMMAND --help' for more information on a command.\n`;
}

/**
 * Runs `berth` with `argv` (without node and script) and resolves with the exit status.
 * Global options come first (`-H unix:///…`), then the command and its arguments.
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  let host: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-H' || a === '--host') {
      if (i + 1 >= argv.length) return usageError(io, `flag needs an argument: ${a === '-H' ? "'H' in -H" : '--host'}`);
      host = argv[++i];
    } else if (a.startsWith('--host=')) host = a.slice('--host='.length);
    else if (a.startsWith('-H') && a.length > 2) host = a.slice(a[2] === '=' ? 3 : 2);
    else if (a === '-v' || a === '--version') {
      io.stdout.write(`${PROG} version ${CLI_VERSION}\n`);
      return 0;
    } else if (a === '--help' || a === '-h') {
      io.stdout.write(mainHelp());
      return 0;
    } else if (a === '-D' || a === '--debug') {
      // Accepted for docker compatibility; berth has no debug output yet.
    } else if (a === '-l' || a === '--log-level' || a === '--config' || a === '-c' || a === '--context') {
      i++;
    } else if (a.startsWith('--log-level=') || a.startsWith('--config=') || a.startsWith('--context=')) {
      // Accepted and ignored, as above.
    } else if (a.startsWith('-') && a !== '-') {
      return usageError(io, a.startsWith('--') ? `unknown flag: ${a.split('=')[0]}` : `unknown shorthand flag: '${a[1]}' in ${a}`);
    } else break;
  }
  const rest = argv.slice(i);
  const name = rest[0];
  if (!name) {
    io.stdout.write(mainHelp());
    return 0;
  }
  let client: BerthClient | undefined;
  const ctx: CommandContext = {
    io,
    client() {
      if (!client) {
        const { BerthClient } = require('@berth/client') as typeof import('@berth/client');
        client = new BerthClient({ host, env: io.env, userAgent: `${PROG}-cli/${CLI_VERSION}` });
      }
      return client;
    },
  };
  try {
    const group = GROUPS[name];
    if (group) {
      const verb = rest[1];
      if (!verb || verb === '--help') {
        io.stdout.write(groupHelp(name));
        return 0;
      }
      const loader = group.verbs[verb];
      if (!loader) {
        io.stderr.write(`${PROG}: '${name} ${verb}' is not a ${PROG} command.\nSee '${PROG} ${name} --help'\n`);
        return 1;
      }
      return await execute(loader(), `${PROG} ${name} ${verb}`, rest.slice(2), ctx);
    }
    if (name === 'help') {
      io.stdout.write(mainHelp());
      return 0;
    }
    const top = TOP.find(([n]) => n === name);
    if (!top) {
      io.stderr.write(`${PROG}: '${name}' is not a ${PROG} command.\nSee '${PROG} --help'\n`);
      return 1;
    }
    return await execute(top[1](), `${PROG} ${name}`, rest.slice(1), ctx);
  } catch (err) {
    // A bad host spec is the usual cause: report it like any other error.
    io.stderr.write(`${(err as Error).message}\n`);
    return 1;
  } finally {
    client?.close();
  }
}

function usageError(io: CliIo, message: string): number {
  io.stderr.write(`${message}\nSee '${PROG} --help'.\n`);
  return 125;
}
