export { API_VERSION, compareApiVersions, MIN_API_VERSION, splitVersionPrefix } from './api-version.js';
export { dockerEventLine, eventMatches } from './events/docker-event.js';
export { frame, StreamType } from './frames.js';
export { boolParam, filtersParam, intParam, isUnset, optionalBoolParam, stringParam, timeParam } from './query.js';
export { upgradeResponse } from './routes/attach.js';
export { ApiServer, type ApiServerOptions, createApiServer, type ListenTarget } from './server.js';
