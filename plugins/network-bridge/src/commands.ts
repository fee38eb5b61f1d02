/** Whether a failure of `ip` only says that the link is already gone. */
export function isNoSuchDevice(err: unknown): boolean {
  return /Cannot find device|does not exist/.test(String(err));
}
