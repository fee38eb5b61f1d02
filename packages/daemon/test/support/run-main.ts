// berthd's main over the stub engine, as a child process, for the real-signal tests.
import { main } from '../../src/index.js';
import { stubParts } from './stub-engine.js';

void main(process.argv.slice(2), { parts: stubParts() }).then((code) => process.exit(code));
