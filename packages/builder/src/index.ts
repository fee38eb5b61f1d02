/**
 * @berth/builder: Dockerfile builds. `src/dockerfile/` reads a Dockerfile into
 * instructions and evaluates its stages; `src/context/` reads build contexts and resolves
 * what COPY and ADD take from them. The executor that runs the steps through the engine
 * comes with issue 21's next increments.
 */
export {};
