/**
 * Run as a child process by adopt.test.ts: create and start a container through a
 * runtime of its own, print one JSON line with the details, then idle until killed.
 * The test SIGKILLs this process to show the container outlives whoever spawned its shim.
 */

import { EventBus, requiredPlugins, silentLogger } from '@berth/core';
import { type OciRuntime, runcPlugin } from '../../src/index.js';

async function main(): Promise<void> {
  const [execRoot, id, bundle, stateDir, logPath] = process.argv.slice(2) as [string, string, string, string, string];
  const runtime = (await runcPlugin.init({
    root: execRoot,
    execRoot,
    dataRoot: execRoot,
    cgroupParent: 'bnat',
    config: {},
    events: new EventBus(),
    log: silentLogger,
    plugins: requiredPlugins('runtime/runc', [], () => undefined),
  })) as OciRuntime;
  const { pid } = await runtime.create({ id, bundle, stateDir, log: { format: 'json-file', path: logPath }, openStdin: false });
  await runtime.start(id);
  process.stdout.write(`${JSON.stringify({ pid })}\n`);
  setInterval(() => {}, 1 << 30);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
