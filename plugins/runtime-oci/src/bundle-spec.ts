import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** An OCI device cgroup rule of `linux.resources.devices`. */
export interface BundleDeviceRule {
  allow?: boolean;
  type?: string;
  major?: number | null;
  minor?: number | null;
  access?: string;
}

/**
 * The parts of a bundle's config.json the runtime adapter reads itself (the runtime reads
 * the rest). Everything else is kept as it is, for a copy handed to the runtime instead
 * of the bundle's (`CompiledSeccompCache`).
 */
export interface BundleSpec {
  hooks?: { poststart?: unknown[] };
  linux?: {
    cgroupsPath?: string;
    resources?: { devices?: BundleDeviceRule[] };
    seccomp?: unknown;
  };
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/**
 * The bundle's config.json, read once per create (it used to be read four times);
 * undefined when it cannot be read or parsed: the runtime then reports that itself.
 */
export function readBundleSpec(bundle: string): BundleSpec | undefined {
  try {
    return JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8')) as BundleSpec;
  } catch {
    return undefined;
  }
}
