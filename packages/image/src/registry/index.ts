export * from './platform.js';
export * from './progress.js';
export * from './pull-image.js';
export * from './push-image.js';
export * from './registry-client.js';
export * from './registry-errors.js';
export * from './registry-hosts.js';
export * from './www-authenticate.js';
