import type { CommandContext } from './command.js';

/**
 * While a container runs attached, signals the CLI receives are sent on to it through
 * the API (docker's sig-proxy): Ctrl-C stops the container's process, not just the
 * client. Returns the function that stops forwarding.
 */
export function proxySignals(ctx: CommandContext, id: string): () => void {
  return ctx.io.onSignal((signal) => {
    ctx
      .client()
      .containers.kill(id, signal)
      .catch(() => {
        // The container may already be gone; the wait result tells the story.
      });
  });
}
