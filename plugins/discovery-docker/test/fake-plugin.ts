import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

/** A call the fake plugin received. */
export interface ReceivedCall {
  method: string;
  body: Record<string, unknown>;
  accept: string | undefined;
  contentType: string | undefined;
}

/** A handler's refusal: answered with `status` and `{"Err": message}`. */
export class Refusal extends Error {
  constructor(
    message: string,
    readonly status = 500,
  ) {
    super(message);
  }
}

export type Handlers = Record<string, (body: Record<string, unknown>) => unknown>;

/**
 * A plugin process's side of the protocol, in the test's own process: an HTTP server on
 * a UNIX socket in a directory of its own (`dir`, under /tmp/berth-unit-discovery-*),
 * answering each `POST /<Method>` from `handlers` (404 for the others, as a plugin
 * without the method), and recording every call.
 */
export async function fakePlugin(
  name: string,
  handlers: Handlers,
): Promise<{
  dir: string;
  socket: string;
  calls: ReceivedCall[];
  methods: () => string[];
  close: () => Promise<void>;
}> {
  const dir = mkdtempSync('/tmp/berth-unit-discovery-');
  const socket = path.join(dir, `${name}.sock`);
  const calls: ReceivedCall[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => {
      const method = (req.url ?? '').slice(1);
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      calls.push({ method, body, accept: req.headers.accept, contentType: req.headers['content-type'] });
      const answer = (status: number, value: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/vnd.docker.plugins.v1.2+json' });
        res.end(JSON.stringify(value));
      };
      const handler = handlers[method];
      if (!handler) return answer(404, { Err: `${method} not implemented` });
      try {
        answer(200, handler(body) ?? {});
      } catch (err) {
        answer(err instanceof Refusal ? err.status : 500, { Err: (err as Error).message });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    dir,
    socket,
    calls,
    methods: () => calls.map((c) => c.method),
    close: () =>
      new Promise<void>((resolve) =>
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        }),
      ),
  };
}
