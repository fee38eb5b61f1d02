export { type HelperArguments, parseHelperArguments } from './helper-arguments.js';
export { runMountHelper } from './mount-helper.js';
