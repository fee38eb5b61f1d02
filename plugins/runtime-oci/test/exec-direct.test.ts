import { test } from 'uvu';
import { execCases } from './support/exec-cases.js';

/** The same cases with direct execs (the shim runs the process, no runtime process). */
execCases('direct');
test.run();
