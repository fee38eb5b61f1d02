import * as http from 'node:http';
import { NotFound, SystemError } from '@berth/core';
import { formatAddress, type PluginAddress } from './plugin-locator.js';

/** The media type of Docker's plugin protocol, sent as Accept and Content-Type. */
export const pluginMediaType = 'application/vnd.docker.plugins.v1.2+json';

/** The plugin answered 404 to a method: it does not implement it (an optional call dockerd tolerates missing). */
export class MethodNotSupported extends NotFound {}

/**
 * The plugin answered and refused: its `Err` (or a status other than 200). `pluginMessage`
 * is its own text, which an adapter may read to pick core's error class (a volume
 * plugin's "no such volume" is a NotFound).
 */
export class PluginRefused extends SystemError {
  constructor(
    message: string,
    readonly pluginMessage: string,
  ) {
    super(message);
  }
}

/**
 * Talks to one Docker plugin: a JSON `POST /<Method>` per call over its UNIX socket (or
 * TCP, from a `tcp://` spec), one connection per call, as dockerd's plugin client. An
 * answer other than 200 is an error carrying the plugin's own message (`{"Err": "..."}`),
 * as a SystemError naming the plugin and the method, except 404, which is
 * `MethodNotSupported`. A plugin that does not answer (no process on the socket, a
 * refused connection, a call past `timeoutMs`) is an error saying so.
 */
export class PluginClient {
  constructor(
    readonly name: string,
    readonly address: PluginAddress,
    private readonly timeoutMs: number,
  ) {}

  call<T>(method: string, body: unknown = {}): Promise<T> {
    const payload = Buffer.from(JSON.stringify(body ?? {}));
    const where =
      this.address.kind === 'unix' ? { socketPath: this.address.socketPath } : { host: this.address.host, port: this.address.port };
    return new Promise<T>((resolve, reject) => {
      const req = http.request(
        {
          ...where,
          method: 'POST',
          path: `/${method}`,
          headers: { Accept: pluginMediaType, 'Content-Type': pluginMediaType, 'Content-Length': payload.length, Host: 'plugin' },
          agent: false,
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(this.unreachable(method, err)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text.trim() === '' ? {} : JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            const pluginError = typeof (parsed as { Err?: unknown } | undefined)?.Err === 'string' ? (parsed as { Err: string }).Err : '';
            if (res.statusCode === 404) {
              reject(new MethodNotSupported(`plugin ${this.name} does not implement ${method}${pluginError ? `: ${pluginError}` : ''}`));
            } else if (res.statusCode !== 200 || pluginError) {
              const message = pluginError || text.trim().slice(0, 200) || `HTTP ${res.statusCode}`;
              reject(new PluginRefused(`plugin ${this.name}: ${method}: ${message}`, message));
            } else if (parsed === undefined || typeof parsed !== 'object' || parsed === null) {
              reject(new SystemError(`plugin ${this.name}: ${method}: the answer is not a JSON object: ${text.slice(0, 200)}`));
            } else resolve(parsed as T);
          });
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (err) => reject(this.unreachable(method, err)));
      req.end(payload);
    });
  }

  private unreachable(method: string, err: Error): SystemError {
    const code = (err as NodeJS.ErrnoException).code;
    const at = formatAddress(this.address);
    if (code === 'ETIMEDOUT') {
      return new SystemError(`plugin ${this.name} did not answer ${method} within ${this.timeoutMs} ms (${at})`, { cause: err });
    }
    if (code === 'ECONNRESET') {
      return new SystemError(`plugin ${this.name} closed the connection during ${method} without answering (${at}): it may have crashed`, {
        cause: err,
      });
    }
    const why =
      code === 'ECONNREFUSED' || code === 'ENOENT'
        ? `is not running (nothing answers on ${at}, found in ${this.address.foundIn})`
        : `cannot be reached at ${at}: ${err.message}`;
    return new SystemError(`plugin ${this.name} ${why}; ${method} failed`, { cause: err });
  }
}
