import { defaultShell, type ImageRuntimeConfig } from './image-config.js';

/**
 * The `created_by` text the classic builder gives a step that ran no command: the
 * config's shell, then `#(nop)` and the comment. Docker has two spellings and `docker
 * history` shows both: most instructions join `#(nop) ` and the comment as two words
 * (`/bin/sh -c #(nop)  ENV a=b`, two spaces), while WORKDIR, COPY and ADD use one word
 * (`/bin/sh -c #(nop) WORKDIR /app`, `/bin/sh -c #(nop) COPY file:… in /dst `); `oneWord`
 * picks the latter. The executor uses it for COPY and ADD, whose comment names the
 * content hash it computed.
 */
export function nopCreatedBy(config: ImageRuntimeConfig, comment: string, oneWord = false): string {
  const shell = config.Shell && config.Shell.length > 0 ? config.Shell : defaultShell;
  return [...shell, ...(oneWord ? [`#(nop) ${comment}`] : ['#(nop) ', comment])].join(' ');
}
