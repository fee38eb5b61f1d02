// The hostile layer corpus: tarballs made here, byte by byte where a writer would refuse
// to make them, never checked in. Shared by the unit tests (applyLayer, import, the
// layer checker) and test/e2e (docker import, load, cp). Run it to look at the files:
//   NODE_OPTIONS=--conditions=@berth/source node -r tsx/cjs packages/image/test/hostile-layers.ts <dir>
import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createGzip } from 'node:zlib';
import { type TarWriteEntry, writeTar } from '@berth/image';

/** What must happen to a layer: refused with a message matching `refused`, or unpacked and then `kept` holds. */
export interface HostileLayer {
  name: string;
  /** What the case is about, for a reader of the corpus. */
  why: string;
  /** The layer's bytes (plain tar, or gzip where said). */
  bytes: () => Promise<Buffer>;
  refused?: RegExp;
  /** Checks the unpacked root (throws when what Docker keeps is not there). */
  kept?: (root: string) => Promise<void>;
  /** Needs root (device nodes, owners). */
  root?: boolean;
}

const block = 512;

/** One raw ustar header; every field as given, the checksum computed unless `badChecksum`. */
export function rawHeader(h: {
  name: string;
  type?: string;
  mode?: number;
  size?: number;
  /** The size field's 12 bytes as written, overriding `size`. */
  sizeField?: Buffer;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  badChecksum?: boolean;
}): Buffer {
  const b = Buffer.alloc(block);
  const octal = (value: number, offset: number, length: number) =>
    b.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'latin1');
  b.write(h.name, 0, 100, 'utf8');
  octal(h.mode ?? 0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  if (h.sizeField) h.sizeField.copy(b, 124);
  else octal(h.size ?? 0, 124, 12);
  octal(0, 136, 12);
  b.write(h.type ?? '0', 156, 1, 'latin1');
  b.write(h.linkname ?? '', 157, 100, 'utf8');
  b.write('ustar\0', 257, 6, 'latin1');
  b.write('00', 263, 2, 'latin1');
  octal(h.devmajor ?? 0, 329, 8);
  octal(h.devminor ?? 0, 337, 8);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  if (h.badChecksum) sum += 1;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return b;
}

/** A raw entry: header, body, padding. */
export function rawEntry(h: Parameters<typeof rawHeader>[0], body: Buffer = Buffer.alloc(0)): Buffer {
  const pad = Buffer.alloc((block - (body.length % block)) % block);
  return Buffer.concat([rawHeader({ size: body.length, ...h }), body, pad]);
}

/** A pax extended header (type `x`) with `records` as written, however bad. */
export function paxEntry(records: Array<[string, string]>): Buffer {
  const body = Buffer.concat(
    records.map(([k, v]) => {
      const rest = ` ${k}=${v}\n`;
      let length = Buffer.byteLength(rest) + 1;
      while (String(length).length + Buffer.byteLength(rest) !== length) length = String(length).length + Buffer.byteLength(rest);
      return Buffer.from(`${length}${rest}`);
    }),
  );
  return rawEntry({ name: 'PaxHeaders/x', type: 'x' }, body);
}

const end = Buffer.alloc(block * 2);

/** A 12-byte size field in GNU base-256, for sizes octal cannot write (over 8 GiB). */
export function base256(n: number): Buffer {
  const b = Buffer.alloc(12);
  let v = BigInt(n);
  for (let i = 11; i > 0; i--, v >>= 8n) b[i] = Number(v & 0xffn);
  b[0] = 0x80;
  return b;
}

async function tar(entries: TarWriteEntry[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of writeTar(entries)) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** gzip of `head` followed by `zeros` zero bytes, streamed (the zeros are never held in memory). */
async function gzipWithZeros(head: Buffer, zeros: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve, reject) => {
    gzip.on('end', resolve);
    gzip.on('error', reject);
  });
  const write = (b: Buffer) => new Promise<void>((resolve) => (gzip.write(b) ? resolve() : gzip.once('drain', resolve)));
  await write(head);
  const chunk = Buffer.alloc(1 << 20);
  for (let left = zeros; left > 0; left -= chunk.length) await write(left >= chunk.length ? chunk : chunk.subarray(0, left));
  gzip.end();
  await done;
  return Buffer.concat(out);
}

async function isFile(p: string, content?: string): Promise<void> {
  const st = await fs.lstat(p);
  assert.ok(st.isFile(), `${p} is a file`);
  if (content !== undefined) assert.equal(await fs.readFile(p, 'utf8'), content);
}

const gib = 1024 ** 3;

/** The corpus. Names are file-name safe. */
export const hostileLayers: HostileLayer[] = [
  {
    name: 'dotdot',
    why: 'a name climbing out of the root',
    bytes: () => tar([{ path: '../planted', type: 'file', body: 'x' }]),
    refused: /invalid tar entry "\.\.\/planted": path contains "\.\."/,
  },
  {
    name: 'dotdot-deep',
    why: 'a name climbing out further down',
    bytes: () => tar([{ path: 'a/../../planted', type: 'file', body: 'x' }]),
    refused: /path contains "\.\."/,
  },
  {
    name: 'absolute-name',
    why: 'an absolute name is taken inside the root, as Docker does',
    bytes: () => tar([{ path: '/tmp/berth-planted/file', type: 'file', body: 'inside' }]),
    kept: (root) => isFile(path.join(root, 'tmp/berth-planted/file'), 'inside'),
  },
  {
    name: 'symlink-write-through',
    why: 'a symlink to /etc, then a write through it',
    bytes: () =>
      tar([
        { path: 'a', type: 'symlink', linkpath: '/etc' },
        { path: 'a/passwd', type: 'file', body: 'root::0:0::/:/bin/sh\n' },
      ]),
    refused: /invalid tar entry "a\/passwd": "a" is a symlink to \/etc, outside the layer's root/,
  },
  {
    name: 'symlink-relative-escape',
    why: 'a relative symlink climbing out, then a write through it',
    bytes: () =>
      tar([
        { path: 'd/e/', type: 'directory' },
        { path: 'd/e/up', type: 'symlink', linkpath: '../../../..' },
        { path: 'd/e/up/planted', type: 'file', body: 'x' },
      ]),
    refused: /leaves the layer's root/,
  },
  {
    name: 'dir-replaced-by-symlink',
    why: 'a directory, then a symlink to /etc of the same name, then a write into it',
    bytes: () =>
      tar([
        { path: 'etc/', type: 'directory' },
        { path: 'etc', type: 'symlink', linkpath: '/etc' },
        { path: 'etc/shadow', type: 'file', body: 'x' },
      ]),
    refused: /"etc" is a symlink to \/etc/,
  },
  {
    name: 'symlink-dangling-kept',
    why: 'a symlink to a host path that nothing writes through stays a symlink',
    bytes: () => tar([{ path: 'etc-link', type: 'symlink', linkpath: '/etc' }]),
    kept: async (root) => assert.equal(await fs.readlink(path.join(root, 'etc-link')), '/etc'),
  },
  {
    name: 'symlink-inside-followed',
    why: 'a relative symlink that stays inside is followed, as a chroot would',
    bytes: () =>
      tar([
        { path: 'usr/lib/', type: 'directory' },
        { path: 'lib', type: 'symlink', linkpath: 'usr/lib' },
        { path: 'lib/libc.so', type: 'file', body: 'elf' },
      ]),
    kept: (root) => isFile(path.join(root, 'usr/lib/libc.so'), 'elf'),
  },
  {
    name: 'symlink-loop',
    why: 'two symlinks to each other, then a write through them',
    bytes: () =>
      tar([
        { path: 'l1', type: 'symlink', linkpath: 'l2' },
        { path: 'l2', type: 'symlink', linkpath: 'l1' },
        { path: 'l1/x', type: 'file', body: 'x' },
      ]),
    refused: /too many levels of symbolic links/,
  },
  {
    name: 'hardlink-dotdot',
    why: 'a hardlink whose target climbs out',
    bytes: () => tar([{ path: 'h', type: 'hardlink', linkpath: '../../../../etc/passwd' }]),
    refused: /invalid tar entry "h": path contains "\.\."/,
  },
  {
    name: 'hardlink-absolute',
    why: 'a hardlink to a host path: taken inside the root, where it does not exist',
    bytes: () => tar([{ path: 'h', type: 'hardlink', linkpath: '/etc/passwd' }]),
    refused: /hardlink target "\/etc\/passwd" does not exist/,
  },
  {
    name: 'hardlink-through-symlink',
    why: 'a hardlink whose target goes through a symlink to /etc',
    bytes: () =>
      tar([
        { path: 'a', type: 'symlink', linkpath: '/etc' },
        { path: 'h', type: 'hardlink', linkpath: 'a/passwd' },
      ]),
    refused: /"a" is a symlink to \/etc/,
  },
  {
    name: 'hardlink-inside-kept',
    why: 'a hardlink to an earlier file of the layer',
    bytes: () =>
      tar([
        { path: 'f', type: 'file', body: 'same' },
        { path: 'g', type: 'hardlink', linkpath: 'f' },
      ]),
    kept: async (root) => {
      const [f, g] = await Promise.all([fs.stat(path.join(root, 'f')), fs.stat(path.join(root, 'g'))]);
      assert.equal(f.ino, g.ino);
      assert.equal(f.nlink, 2);
    },
  },
  {
    name: 'device-nodes-kept',
    why: 'device nodes and a FIFO are kept when unpacking as root, as Docker does',
    root: true,
    bytes: () =>
      tar([
        { path: 'dev/null', type: 'char-device', devmajor: 1, devminor: 3, mode: 0o666 },
        { path: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660 },
        { path: 'fifo', type: 'fifo', mode: 0o600 },
      ]),
    kept: async (root) => {
      const c = await fs.lstat(path.join(root, 'dev/null'));
      assert.ok(c.isCharacterDevice());
      assert.equal(c.rdev, (1 << 8) | 3);
      assert.ok((await fs.lstat(path.join(root, 'dev/sda'))).isBlockDevice());
      assert.ok((await fs.lstat(path.join(root, 'fifo'))).isFIFO());
    },
  },
  {
    name: 'setuid-kept',
    why: "setuid, setgid and sticky bits are kept, owned by the tar's owner",
    root: true,
    bytes: () =>
      tar([
        { path: 'bin/su', type: 'file', body: 'elf', mode: 0o4755, uid: 0, gid: 0 },
        { path: 'bin/wall', type: 'file', body: 'elf', mode: 0o2755, uid: 0, gid: 5 },
        { path: 'tmp/', type: 'directory', mode: 0o1777 },
      ]),
    kept: async (root) => {
      assert.equal((await fs.stat(path.join(root, 'bin/su'))).mode & 0o7777, 0o4755);
      const wall = await fs.stat(path.join(root, 'bin/wall'));
      assert.equal(wall.mode & 0o7777, 0o2755);
      assert.equal(wall.gid, 5);
      assert.equal((await fs.stat(path.join(root, 'tmp'))).mode & 0o7777, 0o1777);
    },
  },
  {
    name: 'huge-size',
    why: 'a header declaring 8 GiB over a few bytes of body',
    bytes: async () => Buffer.concat([rawHeader({ name: 'big', size: 8 * gib }), Buffer.from('x'.repeat(100))]),
    refused: /stream ends inside "big"|would not fit/,
  },
  {
    name: 'huge-size-base256',
    why: 'a base-256 size past what a number holds exactly',
    bytes: async () =>
      Buffer.concat([
        rawHeader({ name: 'big', sizeField: Buffer.from([0x80, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) }),
        end,
      ]),
    refused: /invalid tar: size too large/,
  },
  {
    name: 'negative-size',
    why: 'a negative base-256 size',
    bytes: async () => Buffer.concat([rawHeader({ name: 'neg', sizeField: Buffer.alloc(12, 0xff) }), end]),
    refused: /invalid tar: negative size/,
  },
  {
    name: 'truncated-body',
    why: 'a stream cut inside a file',
    bytes: async () => (await tar([{ path: 'f', type: 'file', body: 'x'.repeat(3000) }])).subarray(0, 1500),
    refused: /stream ends inside "f"/,
  },
  {
    name: 'truncated-header',
    why: 'a stream cut inside a header',
    bytes: async () => (await tar([{ path: 'f', type: 'file', body: 'x' }])).subarray(0, 300),
    refused: /stream ends inside the header/,
  },
  {
    name: 'bad-checksum',
    why: 'a header whose checksum is off by one',
    bytes: async () => Buffer.concat([rawEntry({ name: 'f', badChecksum: true }, Buffer.from('x')), end]),
    refused: /header checksum mismatch/,
  },
  {
    name: 'gzip-bomb-file',
    why: 'gzip of a header declaring 4 TiB, then zeros: refused before a byte is written',
    bytes: () => gzipWithZeros(rawHeader({ name: 'zeros', sizeField: base256(4096 * gib) }), 32 << 20),
    refused: /invalid tar entry "zeros": its 43980465\d{5} bytes would not fit/,
  },
  {
    name: 'gzip-bomb-trailer',
    why: 'a small layer whose gzip goes on with 64 MiB of zeros after the end of the archive',
    bytes: async () => gzipWithZeros(await tar([{ path: 'f', type: 'file', body: 'x' }]), 64 << 20),
    refused: /bytes follow the end of the archive/,
  },
  {
    name: 'pax-bad-uid',
    why: 'a pax uid that is not a number',
    bytes: async () => Buffer.concat([paxEntry([['uid', 'root']]), rawEntry({ name: 'f' }), end]),
    refused: /pax uid of "f" is not a valid number/,
  },
  {
    name: 'pax-hex-size',
    why: 'a pax size written in hex (Number() would take it)',
    bytes: async () => Buffer.concat([paxEntry([['size', '0x10']]), rawEntry({ name: 'f' }, Buffer.alloc(16)), end]),
    refused: /pax size of "f" is not a valid number/,
  },
  {
    name: 'pax-bad-mtime',
    why: 'a pax mtime no date can hold',
    bytes: async () => Buffer.concat([paxEntry([['mtime', '1e999']]), rawEntry({ name: 'f' }), end]),
    refused: /pax mtime of "f" is not a valid time/,
  },
  {
    name: 'pax-huge-uid',
    why: 'a pax uid past 32 bits',
    bytes: async () => Buffer.concat([paxEntry([['uid', '99999999999']]), rawEntry({ name: 'f' }), end]),
    refused: /pax uid of "f" is not a valid number/,
  },
  {
    name: 'pax-malformed',
    why: 'a pax record whose length is wrong',
    bytes: async () =>
      Buffer.concat([rawEntry({ name: 'PaxHeaders/x', type: 'x' }, Buffer.from('99 path=x\n')), rawEntry({ name: 'f' }), end]),
    refused: /invalid pax header .*malformed record/,
  },
  {
    name: 'pax-nul-in-path',
    why: 'a pax path with a NUL byte',
    bytes: async () => Buffer.concat([paxEntry([['path', 'a\0b']]), rawEntry({ name: 'f' }), end]),
    refused: /NUL byte in its name/,
  },
  {
    name: 'pax-flood',
    why: 'eight extended headers of 900 KiB before one entry',
    bytes: async () =>
      Buffer.concat([
        ...Array.from({ length: 8 }, (_, i) => paxEntry([[`comment${i}`, 'c'.repeat(900 << 10)]])),
        rawEntry({ name: 'f' }),
        end,
      ]),
    refused: /extended headers before byte \d+ exceed/,
  },
  {
    name: 'long-component',
    why: 'a name component of 300 bytes (NAME_MAX is 255)',
    bytes: () => tar([{ path: `d/${'n'.repeat(300)}`, type: 'file', body: 'x' }]),
    refused: /a component of the name is longer than 255 bytes/,
  },
  {
    name: 'long-path',
    why: 'a name of 5000 bytes (PATH_MAX is 4096)',
    bytes: () => tar([{ path: Array.from({ length: 50 }, () => 'd'.repeat(99)).join('/'), type: 'file', body: 'x' }]),
    refused: /name is longer than 4095 bytes/,
  },
  {
    name: 'long-names-kept',
    why: 'long names within the limits (pax path, 250-byte components)',
    bytes: () => tar([{ path: `${'a'.repeat(250)}/${'b'.repeat(250)}/${'c'.repeat(250)}`, type: 'file', body: 'deep' }]),
    kept: (root) => isFile(path.join(root, 'a'.repeat(250), 'b'.repeat(250), 'c'.repeat(250)), 'deep'),
  },
  {
    name: 'gnu-longname-slash',
    why: 'a GNU long name whose 100-byte short name ends in "/": the body must still be read as the file\'s',
    bytes: async () => {
      const long = `${'p'.repeat(99)}/file.pyc`;
      const longName = Buffer.from(`${long}\0`);
      return Buffer.concat([
        rawEntry({ name: '././@LongLink', type: 'L' }, longName),
        rawEntry({ name: long.slice(0, 100) }, Buffer.from('compiled')),
        rawEntry({ name: 'after' }, Buffer.from('next')),
        end,
      ]);
    },
    kept: async (root) => {
      await isFile(path.join(root, 'p'.repeat(99), 'file.pyc'), 'compiled');
      await isFile(path.join(root, 'after'), 'next');
    },
  },
  {
    name: 'whiteout-empty',
    why: 'a whiteout of nothing (".wh."), which would remove its own directory',
    bytes: () => tar([{ path: '.wh.', type: 'file' }]),
    refused: /whiteout of an invalid name/,
  },
  {
    name: 'symlink-target-too-long',
    why: 'a symlink target of 5000 bytes',
    bytes: () => tar([{ path: 's', type: 'symlink', linkpath: 'x'.repeat(5000) }]),
    refused: /symlink target is longer than 4095 bytes/,
  },
  {
    name: 'sparse',
    why: 'a GNU sparse file (type S), which berth does not unpack',
    bytes: async () => Buffer.concat([rawEntry({ name: 'sparse', type: 'S' }), end]),
    refused: /unsupported entry type "S"/,
  },
  {
    name: 'file-in-the-middle',
    why: 'a file used as a directory',
    bytes: () =>
      tar([
        { path: 'f', type: 'file', body: 'x' },
        { path: 'f/x', type: 'file', body: 'x' },
      ]),
    refused: /"f" is not a directory/,
  },
];

/** Write every case to `<dir>/<name>.tar` (or `.tar.gz`). */
export async function writeCorpus(dir: string): Promise<string[]> {
  await fs.mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const layer of hostileLayers) {
    const bytes = await layer.bytes();
    const file = path.join(dir, `${layer.name}${bytes[0] === 0x1f && bytes[1] === 0x8b ? '.tar.gz' : '.tar'}`);
    await fs.writeFile(file, bytes);
    files.push(file);
  }
  return files;
}

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: hostile-layers.ts <dir>');
  writeCorpus(dir).then(
    (files) => console.log(files.join('\n')),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
