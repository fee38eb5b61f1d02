// The mount helper program: `node mount-helper-main.js <source> <target> -o <options>`
// (MountSpec.helper of the fuse driver's mounts). One process per mounted union.
import { runMountHelper } from './mount-helper.js';

runMountHelper(process.argv.slice(2));
