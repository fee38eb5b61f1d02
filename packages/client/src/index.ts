export { BerthClient, type ClientOptions, type PingResult } from './client.js';
export {
  ContainersClient,
  type AttachRequest,
  type ListContainersOptions,
  type LogSinks,
  type LogsRequest,
  type RemoveOptions,
  type WaitHandle,
} from './containers.js';
export { ImagesClient, type ImportRequest, type ListImagesOptions } from './images.js';
export { Attachment } from './attachment.js';
export { ApiError, ConnectionError } from './errors.js';
export { FrameDemuxer, encodeFrame, type StreamType } from './frames.js';
export { readJsonLines, type JsonMessage } from './json-lines.js';
export { DEFAULT_SOCKET_PATH, hostUrl, resolveSocketPath } from './host.js';
export { API_VERSION, CLIENT_VERSION, Transport, type HijackedStream, type RequestOptions } from './transport.js';
export { encodeFilters, encodeQuery } from './query.js';
