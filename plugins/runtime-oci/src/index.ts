import { runcPlugin } from './plugins.js';

export default runcPlugin;
export { isCgroupV2, oomFiles } from './cgroups.js';
export { isCgroupHybrid, probeRuntime } from './crun-probe.js';
export { encodeFrame, FrameDecoder, StreamId } from './frames.js';
export { OciRuntime, type OciRuntimeOptions } from './oci-runtime.js';
export { crunPlugin, type OciRuntimeConfig, runcPlugin } from './plugins.js';
export { optimizeSeccompProgram, seccompFilterError } from './seccomp-optimizer.js';
export { ShimConnection } from './shim-connection.js';
export { ShimProcess } from './shim-process.js';
