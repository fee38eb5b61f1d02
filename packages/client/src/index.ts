export { Attachment } from './attachment.js';
export { BerthClient, type ClientOptions, type DaemonEvent, type PingResult } from './client.js';
export {
  type AttachRequest,
  ContainersClient,
  type ListContainersOptions,
  type LogSinks,
  type LogsRequest,
  type RemoveOptions,
  type WaitHandle,
} from './containers.js';
export { ApiError, ConnectionError } from './errors.js';
export { type ExecStartRequest, ExecsClient } from './execs.js';
export { encodeFrame, FrameDemuxer, type StreamType } from './frames.js';
export { DEFAULT_SOCKET_PATH, hostUrl, resolveSocketPath } from './host.js';
export { type BuildRequestOptions, ImagesClient, type ImportRequest, type ListImagesOptions } from './images.js';
export { type JsonMessage, readJsonLines } from './json-lines.js';
export { NetworksClient } from './networks.js';
export { encodeFilters, encodeQuery } from './query.js';
export { API_VERSION, CLIENT_VERSION, type HijackedStream, type RequestOptions, Transport } from './transport.js';
export { VolumesClient } from './volumes.js';
