import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The server name Docker keys Docker Hub's credentials by. */
export const dockerHubServer = 'https://index.docker.io/v1/';

/** Credentials for one registry, as `docker login` stores them. */
export interface StoredCredentials {
  username: string;
  /** The password; empty when an identity token stands for it. */
  password: string;
  identitytoken?: string;
  serveraddress: string;
}

/** The parts of Docker's client config (`config.json`) that hold credentials; other keys are kept as they are. */
interface DockerClientConfig {
  auths?: Record<string, { auth?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

/**
 * Registry credentials where Docker's CLI keeps them, so `berth login` and `docker
 * login` share them: `$DOCKER_CONFIG/config.json` (else `~/.docker/config.json`),
 * `auths.<server>.auth` = base64 `user:password`, unless a credential helper is named
 * (`credHelpers.<server>`, else `credsStore`): then the helper program
 * `docker-credential-<name>` holds them, spoken to with its protocol (`get`, `store`,
 * `erase` as argument; the server URL, or `{"ServerURL","Username","Secret"}`, on
 * stdin; JSON on stdout). The file is rewritten atomically with mode 0600.
 */
export class CredentialStore {
  readonly file: string;

  constructor(env: Record<string, string | undefined> = process.env) {
    const dir = env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
    this.file = path.join(dir, 'config.json');
  }

  /** The credentials stored for `server`, or undefined. */
  get(server: string): StoredCredentials | undefined {
    const config = this.read();
    const helper = this.helperFor(config, server);
    if (helper) {
      let out: string;
      try {
        out = execFileSync(`docker-credential-${helper}`, ['get'], { input: server, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
      } catch (err) {
        const text = `${(err as { stdout?: string }).stdout ?? ''}`.trim();
        // The protocol's answer for "nothing stored".
        if (/credentials not found/i.test(text)) return undefined;
        throw new Error(`error getting credentials - docker-credential-${helper}: ${text || (err as Error).message}`);
      }
      const answer = JSON.parse(out) as { Username?: string; Secret?: string };
      if (!answer.Username && !answer.Secret) return undefined;
      // `<token>` as the user marks an identity token.
      if (answer.Username === '<token>') return { username: '', password: '', identitytoken: answer.Secret ?? '', serveraddress: server };
      return { username: answer.Username ?? '', password: answer.Secret ?? '', serveraddress: server };
    }
    const entry = config.auths?.[server];
    if (!entry) return undefined;
    const decoded = entry.auth ? Buffer.from(entry.auth, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const creds: StoredCredentials = {
      username: colon >= 0 ? decoded.slice(0, colon) : decoded,
      password: colon >= 0 ? decoded.slice(colon + 1) : '',
      serveraddress: server,
    };
    if (entry.identitytoken) creds.identitytoken = entry.identitytoken;
    return creds.username || creds.identitytoken ? creds : undefined;
  }

  /** Store the credentials of `creds.serveraddress`, in its helper or in the file. */
  store(creds: StoredCredentials): void {
    const config = this.read();
    const server = creds.serveraddress;
    const helper = this.helperFor(config, server);
    if (helper) {
      const payload = creds.identitytoken
        ? { ServerURL: server, Username: '<token>', Secret: creds.identitytoken }
        : { ServerURL: server, Username: creds.username, Secret: creds.password };
      runHelper(helper, 'store', JSON.stringify(payload));
      // Docker leaves an empty entry so `docker info` and friends know a login exists.
      config.auths = { ...(config.auths ?? {}), [server]: {} };
    } else {
      const entry: { auth: string; identitytoken?: string } = {
        auth: Buffer.from(`${creds.username}:${creds.identitytoken ? '' : creds.password}`).toString('base64'),
      };
      if (creds.identitytoken) entry.identitytoken = creds.identitytoken;
      config.auths = { ...(config.auths ?? {}), [server]: entry };
    }
    this.write(config);
  }

  /** Forget `server`'s credentials; false when none were stored. */
  erase(server: string): boolean {
    const config = this.read();
    const helper = this.helperFor(config, server);
    let had = !!config.auths?.[server];
    if (helper) {
      try {
        runHelper(helper, 'erase', server);
        had = true;
      } catch {
        // nothing stored in the helper: the file entry decides
      }
    }
    if (config.auths?.[server]) {
      delete config.auths[server];
      this.write(config);
    }
    return had;
  }

  private helperFor(config: DockerClientConfig, server: string): string | undefined {
    return config.credHelpers?.[server] || config.credsStore || undefined;
  }

  private read(): DockerClientConfig {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    if (text.trim() === '') return {};
    try {
      return JSON.parse(text) as DockerClientConfig;
    } catch (err) {
      throw new Error(`loading config file ${this.file}: ${(err as Error).message}`);
    }
  }

  /** Temporary file, then rename: a crash leaves the old config or the new one, never half of one. */
  private write(config: DockerClientConfig): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }
}

function runHelper(helper: string, verb: 'store' | 'erase', input: string): void {
  try {
    execFileSync(`docker-credential-${helper}`, [verb], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    const text = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`.trim();
    throw new Error(
      `error ${verb === 'store' ? 'storing' : 'erasing'} credentials - docker-credential-${helper}: ${text || (err as Error).message}`,
    );
  }
}

/**
 * The server name credentials are stored under for an image reference's registry:
 * Docker Hub's `https://index.docker.io/v1/` for familiar names and `docker.io`,
 * otherwise the registry's `host[:port]`.
 */
export function credentialServerFor(image: string): string {
  const first = image.split('/')[0]!;
  const hasRegistry = image.includes('/') && (/[.:]/.test(first) || first === 'localhost');
  if (!hasRegistry || first === 'docker.io' || first === 'index.docker.io' || first === 'registry-1.docker.io') return dockerHubServer;
  return first;
}

/** `docker login SERVER` → the key it is stored under (`https://host/` → `host`, Hub names → Hub's key). */
export function normalizeServerAddress(server: string | undefined): string {
  if (!server) return dockerHubServer;
  const host = server.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  if (host === 'docker.io' || host === 'index.docker.io' || host === 'registry-1.docker.io') return dockerHubServer;
  return host;
}

/** The X-Registry-Auth value (base64url JSON AuthConfig) for credentials, or undefined. */
export function registryAuthHeader(creds: StoredCredentials | undefined): string | undefined {
  if (!creds) return undefined;
  const auth: Record<string, string> = { serveraddress: creds.serveraddress };
  if (creds.identitytoken) auth.identitytoken = creds.identitytoken;
  else {
    auth.username = creds.username;
    auth.password = creds.password;
  }
  return Buffer.from(JSON.stringify(auth)).toString('base64url');
}
