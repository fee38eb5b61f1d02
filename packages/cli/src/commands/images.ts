import type { ImageSummary } from '@berth/core';
import { type Command, forEachName, PROG } from '../command.js';
import { StatusError } from '../errors.js';
import { isDefaultTable, renderList } from '../format/list.js';
import { truncateId } from '../format/table.js';
import { goTimeString } from '../format/time.js';
import { humanSize, timeAgo } from '../format/units.js';
import { parseFilters } from './ps.js';

export const DEFAULT_IMAGES_FORMAT =
  'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
export const DEFAULT_IMAGES_FORMAT_WITH_DIGEST =
  'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';

export const IMAGES_HEADERS: Record<string, unknown> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  VirtualSize: 'SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
};

/** `docker.io/library/busybox` → `busybox`, as docker shows names. */
export function familiarName(name: string): string {
  return name.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}

/** `repo:tag` → [repo, tag]; the tag is after the last colon that follows the last slash. */
export function splitTag(ref: string): [string, string | undefined] {
  const at = ref.indexOf('@');
  const name = at >= 0 ? ref.slice(0, at) : ref;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) return [name.slice(0, colon), name.slice(colon + 1)];
  return [name, undefined];
}

/** One line of `docker images`: an image under one repository and tag. */
export class ImageRow {
  constructor(
    private readonly i: ImageSummary,
    private readonly trunc: boolean,
    private readonly nowMs: number,
    readonly Repository: string,
    readonly Tag: string,
    readonly Digest: string,
  ) {}

  get ID(): string {
    return this.trunc ? truncateId(this.i.Id) : this.i.Id;
  }

  get CreatedSince(): string {
    return this.i.Created ? timeAgo(this.i.Created, this.nowMs) : '';
  }

  get CreatedAt(): string {
    return goTimeString(this.i.Created);
  }

  get Size(): string {
    return humanSize(this.i.Size);
  }

  get VirtualSize(): string {
    return humanSize(this.i.Size, 4);
  }

  get SharedSize(): string {
    return this.i.SharedSize === -1 || this.i.SharedSize === undefined ? 'N/A' : humanSize(this.i.SharedSize, 4);
  }

  get UniqueSize(): string {
    return this.i.SharedSize === -1 || this.i.SharedSize === undefined ? 'N/A' : humanSize(this.i.Size - this.i.SharedSize, 4);
  }

  get Containers(): string {
    return this.i.Containers === -1 || this.i.Containers === undefined ? 'N/A' : String(this.i.Containers);
  }

  toJSON(): Record<string, string> {
    return {
      Containers: this.Containers,
      CreatedAt: this.CreatedAt,
      CreatedSince: this.CreatedSince,
      Digest: this.Digest,
      ID: this.ID,
      Repository: this.Repository,
      SharedSize: this.SharedSize,
      Size: this.Size,
      Tag: this.Tag,
      UniqueSize: this.UniqueSize,
      VirtualSize: this.VirtualSize,
    };
  }
}

function isDangling(i: ImageSummary): boolean {
  const tags = i.RepoTags ?? [];
  const digests = i.RepoDigests ?? [];
  if (!tags.length && !digests.length) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

/** Expands images into rows, one per repository:tag (and per digest when asked), like docker. */
export function imageRows(images: ImageSummary[], options: { noTrunc?: boolean; digests?: boolean; nowMs: number }): ImageRow[] {
  const trunc = !options.noTrunc;
  const rows: ImageRow[] = [];
  for (const img of images) {
    if (isDangling(img)) {
      rows.push(new ImageRow(img, trunc, options.nowMs, '<none>', '<none>', '<none>'));
      continue;
    }
    const tags = new Map<string, string[]>();
    const digests = new Map<string, string[]>();
    for (const ref of img.RepoTags ?? []) {
      if (ref === '<none>:<none>') continue;
      const [repo, tag] = splitTag(ref);
      if (tag) (tags.get(familiarName(repo)) ?? tags.set(familiarName(repo), []).get(familiarName(repo))!).push(tag);
    }
    for (const ref of img.RepoDigests ?? []) {
      const at = ref.indexOf('@');
      if (at < 0 || ref === '<none>@<none>') continue;
      const repo = familiarName(ref.slice(0, at));
      (digests.get(repo) ?? digests.set(repo, []).get(repo)!).push(ref.slice(at + 1));
    }
    for (const [repo, repoTags] of tags) {
      const ds = options.digests ? (digests.get(repo) ?? []) : [];
      digests.delete(repo);
      for (const tag of repoTags) {
        if (!ds.length) rows.push(new ImageRow(img, trunc, options.nowMs, repo, tag, '<none>'));
        for (const d of ds) rows.push(new ImageRow(img, trunc, options.nowMs, repo, tag, d));
      }
    }
    for (const [repo, ds] of digests) {
      if (options.digests) for (const d of ds) rows.push(new ImageRow(img, trunc, options.nowMs, repo, '<none>', d));
      else rows.push(new ImageRow(img, trunc, options.nowMs, repo, '<none>', ''));
    }
  }
  return rows;
}

/** The `images` output: default table, `-q` (unique ids), `json` or a template. */
export function formatImages(
  images: ImageSummary[],
  options: { quiet?: boolean; noTrunc?: boolean; digests?: boolean; format?: string; nowMs: number },
): string {
  if (options.quiet) {
    const ids = [...new Set(images.map((i) => (options.noTrunc ? i.Id : truncateId(i.Id))))];
    return ids.map((id) => `${id}\n`).join('');
  }
  const digests = options.digests || (options.format ?? '').includes('{{.Digest}}');
  const rows = imageRows(images, { noTrunc: options.noTrunc, digests, nowMs: options.nowMs });
  let format = options.format;
  if (isDefaultTable(format)) format = options.digests ? DEFAULT_IMAGES_FORMAT_WITH_DIGEST : DEFAULT_IMAGES_FORMAT;
  else if (format!.startsWith('table') && options.digests && !format!.includes('{{.Digest}}')) format += '\t{{.Digest}}';
  return renderList(format!, rows, IMAGES_HEADERS);
}

export const imagesCommand: Command = {
  name: 'images',
  usage: '[OPTIONS] [REPOSITORY[:TAG]]',
  summary: 'List images',
  aliases: `${PROG} image ls, ${PROG} image list, ${PROG} images`,
  flags: [
    { long: 'all', short: 'a', kind: 'bool', help: 'Show all images (default hides intermediate images)' },
    { long: 'digests', kind: 'bool', help: 'Show digests' },
    { long: 'filter', short: 'f', kind: 'list', meta: 'filter', help: 'Filter output based on conditions provided' },
    { long: 'format', kind: 'string', help: "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'" },
    { long: 'no-trunc', kind: 'bool', help: "Don't truncate output" },
    { long: 'quiet', short: 'q', kind: 'bool', help: 'Only show image IDs' },
  ],
  maxArgs: 1,
  async run(ctx, flags, args) {
    const filters = parseFilters(flags.list('filter'));
    if (args[0]) {
      filters.reference ??= [];
      filters.reference.push(args[0]);
    }
    const images = await ctx.client().images.list({ all: flags.bool('all'), filters, digests: flags.bool('digests') });
    ctx.io.stdout.write(
      formatImages(images, {
        quiet: flags.bool('quiet'),
        noTrunc: flags.bool('no-trunc'),
        digests: flags.bool('digests'),
        format: flags.string('format'),
        nowMs: ctx.io.now(),
      }),
    );
    return 0;
  },
};

export const rmiCommand: Command = {
  name: 'rmi',
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  summary: 'Remove one or more images',
  aliases: `${PROG} image rm, ${PROG} image remove, ${PROG} rmi`,
  flags: [
    { long: 'force', short: 'f', kind: 'bool', help: 'Force removal of the image' },
    { long: 'no-prune', kind: 'bool', help: 'Do not delete untagged parents' },
  ],
  minArgs: 1,
  async run(ctx, flags, names) {
    const client = ctx.client();
    const failed: string[] = [];
    // Sequential, like docker: removing one tag can change what the next name means.
    for (const name of names) {
      const one = await forEachName(
        ctx,
        [name],
        (n) => client.images.remove(n, { force: flags.bool('force'), noprune: flags.bool('no-prune') }),
        (_n, entries) => {
          for (const e of entries) {
            if ('Untagged' in e) ctx.io.stdout.write(`Untagged: ${e.Untagged}\n`);
            if ('Deleted' in e) ctx.io.stdout.write(`Deleted: ${e.Deleted}\n`);
          }
        },
      );
      failed.push(...one);
    }
    if (failed.length) throw new StatusError('', 1);
    return 0;
  },
};

export const tagCommand: Command = {
  name: 'tag',
  usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  summary: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  aliases: `${PROG} image tag, ${PROG} tag`,
  flags: [],
  minArgs: 2,
  maxArgs: 2,
  async run(ctx, _flags, [source, target]) {
    if (target!.includes('@')) throw new StatusError('refusing to create a tag with a digest reference', 1);
    const [repo, tag] = splitTag(target!);
    await ctx.client().images.tag(source!, repo, tag);
    return 0;
  },
};
