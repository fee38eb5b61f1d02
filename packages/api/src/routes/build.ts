import { type BuildOutput, InvalidArgument, NotImplemented, type ProgressMessage } from '@berth/core';
import type { RequestContext } from '../context.js';
import { boolParam, stringParam } from '../query.js';
import { pipedUpload } from '../request-body.js';
import { errorMessage } from '../respond.js';
import type { RouteModule } from '../route-module.js';
import { clientGoneSignal, jsonLine, startJsonLines } from '../stream-write.js';

/**
 * `POST /build`, the classic builder's API, as the docker CLI (with no buildx),
 * docker-py and docker-compose use it: the context in the body (or `remote=`), the
 * options in the query, and a JSON-lines answer (`{"stream": …}` text, pull progress,
 * `{"aux": {"ID": …}}`, then `Successfully built <12 hex>` and `Successfully tagged …`,
 * which docker-py reads the id from). An error before the first line is a normal error
 * answer (a Dockerfile that does not parse: 400); after it, it goes in the stream as
 * `{"errorDetail": {"code": <exit code of a failed RUN>, "message": …}, "error": …}`,
 * and the docker CLI exits with that code. With `q=1` only the image id is written, or,
 * when the build fails, what it said and the error (as moby does).
 */
async function build(ctx: RequestContext): Promise<void> {
  const { query, res } = ctx;
  const version = stringParam(query, 'version');
  if (version === '2') {
    throw new NotImplemented('berth has no BuildKit session API: build with the classic builder (DOCKER_BUILDKIT=0)');
  }
  const quiet = boolParam(query, 'q');
  const remote = stringParam(query, 'remote');
  const upload = remote ? undefined : pipedUpload(ctx.req);
  let started = false;
  const write = (value: unknown) => {
    if (res.destroyed || res.writableEnded) return;
    if (!started) {
      startJsonLines(res);
      started = true;
    }
    res.write(jsonLine(value));
  };
  // Quiet: what the build says is held back, and written only when it fails, before the
  // error (moby's notVerboseBuffer): the docker CLI then shows it and exits with a failed
  // RUN's code, which an error answer (nothing written yet) could not carry.
  const held = new HeldOutput();
  const output: BuildOutput = {
    stream: (text) => {
      if (quiet) held.add({ stream: text });
      else write({ stream: text });
    },
    progress: (message: ProgressMessage) => {
      if (!quiet) write(message);
    },
    aux: (value) => {
      if (!quiet) write({ aux: value });
    },
  };
  try {
    const { imageId } = await ctx.scope.engine.builds.build({
      ...(upload ? { body: upload.body } : {}),
      ...(remote ? { remote } : {}),
      ...optional('dockerfile', stringParam(query, 'dockerfile')),
      tags: query.getAll('t').filter((t) => t !== ''),
      buildArgs: jsonObjectParam(query, 'buildargs', (v) => (v === null ? undefined : String(v))),
      labels: jsonObjectParam(query, 'labels', (v) => String(v ?? '')),
      ...optional('target', stringParam(query, 'target')),
      noCache: boolParam(query, 'nocache'),
      pull: boolParam(query, 'pull'),
      ...optional('network', stringParam(query, 'networkmode')),
      ...secretsOf(ctx.req.headers['x-berth-build-secrets']),
      output,
      signal: clientGoneSignal(res),
    });
    if (quiet) write({ stream: `${imageId}\n` });
  } catch (err) {
    upload?.discardRest();
    if (quiet && !started && !held.empty) for (const line of held.lines()) write(line);
    if (!started) throw err;
    const message = errorMessage(err);
    const exitCode = (err as { exitCode?: unknown }).exitCode;
    const code = typeof exitCode === 'number' ? exitCode : 1;
    if (!res.destroyed) res.end(jsonLine({ errorDetail: { code, message }, error: message }));
    return;
  }
  if (!started) startJsonLines(res);
  res.end();
}

/**
 * The output of a quiet build, kept in case it fails: its last 1 MiB of text (a RUN that
 * prints without end does not grow the daemon without bound).
 */
class HeldOutput {
  private readonly held: Array<{ stream: string }> = [];
  private bytes = 0;
  private static readonly limit = 1 << 20;

  add(line: { stream: string }): void {
    this.held.push(line);
    this.bytes += line.stream.length;
    while (this.bytes > HeldOutput.limit && this.held.length > 1) this.bytes -= this.held.shift()!.stream.length;
  }

  get empty(): boolean {
    return this.held.length === 0;
  }

  lines(): ReadonlyArray<{ stream: string }> {
    return this.held;
  }
}

/**
 * `X-Berth-Build-Secrets` (berth build --secret): base64 of a JSON object, secret id →
 * base64 of its value. A header rather than the query, which servers and proxies log.
 */
function secretsOf(header: string | string[] | undefined): { secrets?: Record<string, Buffer> } {
  if (header === undefined) return {};
  const text = Array.isArray(header) ? header.join('') : header;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch {
    throw new InvalidArgument('invalid X-Berth-Build-Secrets header: expected base64 of a JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgument('invalid X-Berth-Build-Secrets header: expected base64 of a JSON object');
  }
  const secrets: Record<string, Buffer> = {};
  for (const [id, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') throw new InvalidArgument(`invalid X-Berth-Build-Secrets header: secret ${id} is not a base64 string`);
    secrets[id] = Buffer.from(value, 'base64');
  }
  return { secrets };
}

/** `{key: value}` when the query has the key, else nothing (the request's optional fields). */
function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined || value === '' ? {} : { [key]: value }) as { [P in K]?: string };
}

/** A query value holding a JSON object of strings (`buildargs`, `labels`); absent or empty: `{}`. */
function jsonObjectParam<T>(query: URLSearchParams, key: string, value: (v: unknown) => T): Record<string, T> {
  const text = stringParam(query, key);
  if (text === undefined || text === '' || text === 'null') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidArgument(`invalid ${key}: not JSON: ${text}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgument(`invalid ${key}: expected a JSON object, got ${text}`);
  }
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, value(v)]));
}

/** `POST /build`. */
export const buildRoutes: RouteModule = {
  name: 'build',
  register(routes) {
    routes.add('POST', '/build', build);
  },
};
