/**
 * @berth/builder: Dockerfile builds. `src/dockerfile/` reads a Dockerfile into
 * instructions and evaluates its stages; `src/context/` reads build contexts and resolves
 * what COPY and ADD take from them; `src/worker/` is what the build asks of the engine.
 */
export * from './context/add-plan.js';
export * from './context/archive-stream.js';
export * from './context/build-context.js';
export * from './context/chmod.js';
export * from './context/chown.js';
export * from './context/clean-path.js';
export * from './context/content-hash.js';
export * from './context/context-index.js';
export * from './context/copy-plan.js';
export * from './context/copy-writer.js';
export * from './context/dockerignore.js';
export * from './context/git-context.js';
export * from './context/git-source.js';
export * from './context/go-pattern.js';
export * from './context/http-fetch.js';
export * from './context/indexed-context.js';
export * from './context/layer-tar.js';
export * from './context/open-build-context.js';
export * from './context/pack-context.js';
export * from './context/recent-indexes.js';
export * from './context/tar-context.js';
export * from './context/unpack-archive.js';
export * from './context/url-context.js';
export * from './dockerfile/build-plan.js';
export * from './dockerfile/config-changes.js';
export * from './dockerfile/errors.js';
export * from './dockerfile/evaluate-stage.js';
export * from './dockerfile/history-text.js';
export * from './dockerfile/image-config.js';
export * from './dockerfile/instructions.js';
export * from './dockerfile/logical-lines.js';
export * from './dockerfile/parse-dockerfile.js';
export * from './dockerfile/run-mount.js';
export * from './dockerfile/shell-lexer.js';
export * from './executor/build-executor.js';
export { OrderedOutput } from './executor/ordered-output.js';
export type {
  BuildImage,
  BuildWorker,
  ConfigStepRequest,
  FilesStepRequest,
  RunStepMount,
  RunStepRequest,
  StepHistory,
} from './worker/build-worker.js';
export { RunStepFailed } from './worker/run-step-failed.js';
