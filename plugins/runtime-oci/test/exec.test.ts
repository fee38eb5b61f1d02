import { test } from 'uvu';
import { execCases } from './support/exec-cases.js';

/** Execs through runc (the runtime's own `exec`), as the runtime contract has them. */
execCases('runtime');
test.run();
