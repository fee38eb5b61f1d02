import { runcPlugin } from './plugins.js';

export default runcPlugin;
export { runcPlugin, crunPlugin, type OciRuntimeConfig } from './plugins.js';
export { OciRuntime, type OciRuntimeOptions } from './oci-runtime.js';
export { ShimConnection } from './shim-connection.js';
export { encodeFrame, FrameDecoder, StreamId } from './frames.js';
export { oomFiles, isCgroupV2 } from './cgroups.js';
export { isCgroupHybrid, probeRuntime } from './crun-probe.js';
