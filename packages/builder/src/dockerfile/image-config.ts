/**
 * The part of an OCI image config a Dockerfile changes: the `config` object with
 * Docker's capitalised keys. It has the same shape as `@berth/image`'s ContainerConfig
 * (kept structural here so that neither package has to import the other); fields this
 * package does not know pass through untouched.
 */
export interface ImageRuntimeConfig {
  User?: string;
  /** `"80/tcp": {}` for each port. */
  ExposedPorts?: Record<string, Record<string, never>> | null;
  /** `KEY=value` strings, in the order they were set. */
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  /** `"/data": {}` for each volume. */
  Volumes?: Record<string, Record<string, never>> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  Healthcheck?: {
    Test?: string[];
    Interval?: number;
    Timeout?: number;
    StartPeriod?: number;
    StartInterval?: number;
    Retries?: number;
  } | null;
  OnBuild?: string[] | null;
  Shell?: string[] | null;
  ArgsEscaped?: boolean;
  [key: string]: unknown;
}

/** The shell of shell-form commands when the image sets none (Linux). */
export const defaultShell: readonly string[] = ['/bin/sh', '-c'];
