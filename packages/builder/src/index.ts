/**
 * @berth/builder: Dockerfile builds. `src/dockerfile/` reads a Dockerfile into
 * instructions and evaluates its stages; `src/context/` reads build contexts and resolves
 * what COPY and ADD take from them. The executor that runs the steps through the engine
 * comes with issue 21's next increments.
 */
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
