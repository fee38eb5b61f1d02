/**
 * @berth/builder: Dockerfile builds. `src/dockerfile/` reads a Dockerfile into
 * instructions and evaluates its stages; `src/context/` reads build contexts and resolves
 * what COPY and ADD take from them; `src/worker/` is what the build asks of the engine.
 */
export type {
  BuildImage,
  BuildWorker,
  ConfigStepRequest,
  FilesStepRequest,
  RunStepRequest,
  StepHistory,
} from './worker/build-worker.js';
export { RunStepFailed } from './worker/run-step-failed.js';
