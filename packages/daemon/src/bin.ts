import { main } from './main.js';

// The berthd executable: run, then exit with main's code (open handles of a closed
// engine must not keep a stopped daemon alive).
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`berthd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
