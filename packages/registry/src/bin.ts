import { registryMain } from './registry-command.js';

// berth-registry: the registry as a process of its own (bin/berth-registry).
registryMain(
  process.argv.slice(2),
  (line) => process.stdout.write(`${line}\n`),
  (line) => process.stderr.write(`${line}\n`),
).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`berth-registry: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  },
);
