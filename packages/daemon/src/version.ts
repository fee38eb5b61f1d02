import packageJson from '../package.json';

/** berthd's version, as `Server: berth/<version>` and `docker version` report it. */
export const berthVersion: string = packageJson.version;
