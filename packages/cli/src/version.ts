/** berth's CLI version (kept equal to package.json's by a test; a constant so start-up reads no file). */
export const CLI_VERSION = '0.1.0';
