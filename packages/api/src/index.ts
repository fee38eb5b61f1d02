export { ApiServer, createApiServer, type ApiServerOptions, type ListenTarget } from './server.js';
export { API_VERSION, MIN_API_VERSION, compareApiVersions, splitVersionPrefix } from './api-version.js';
export { boolParam, filtersParam, intParam, isUnset, optionalBoolParam, stringParam, timeParam } from './query.js';
export { frame, StreamType } from './frames.js';
export { dockerEventLine, eventMatches } from './events/docker-event.js';
export { upgradeResponse } from './routes/attach.js';
