import type { Header } from 'tar';

let headerClass: typeof Header | undefined;

/**
 * npm tar's header codec, loaded on first use: requiring `tar` costs about 20 ms, which
 * a CLI that only parses references (and imports this package for it) should not pay.
 */
export function tarHeader(): typeof Header {
  headerClass ??= (require('tar') as typeof import('tar')).Header;
  return headerClass;
}

/** The fields of a header block `readTar` reads, as npm tar's `Header` decodes them. */
export interface DecodedHeader {
  cksumValid: boolean;
  path?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkpath?: string;
  uname?: string;
  gname?: string;
  devmaj?: number;
  devmin?: number;
}

/**
 * Decode a 512-byte header block exactly as npm tar's `Header` does (the reader's
 * behaviour is defined by it), reading the plain blocks nearly every tar holds without
 * it: ASCII text fields and octal numbers. npm's codec decodes every field as UTF-8
 * and trims it with a RegExp, about 15 µs a header, which was the largest cost of
 * indexing a build context of 1,000 small files. A block with anything else in a field
 * it reads (a byte of 0x80 or more, a line break after a NUL, which its RegExp treats
 * specially, a base-256 number) is decoded by npm's codec itself, so the two never
 * disagree (`test/tar-header.test.ts` compares them on crafted and random blocks).
 * Throws what npm's codec throws (a bad base-256 number).
 */
export function decodeHeader(block: Buffer): DecodedHeader {
  return decodePlain(block) ?? new (tarHeader())(block);
}

/** Why a field made `decodePlain` give up (npm's codec decodes the block instead). */
const notPlain = Symbol('not plain');

function decodePlain(b: Buffer): DecodedHeader | undefined {
  try {
    let path = text(b, 0, 100);
    const mode = number(b, 100, 8);
    const uid = number(b, 108, 8);
    const gid = number(b, 116, 8);
    // The size is readTar's own to read (headerNumber), but npm's codec decodes it too, and may throw.
    number(b, 124, 12);
    const seconds = number(b, 136, 12);
    const cksum = number(b, 148, 12);
    // The type flag is read (as text) by npm's codec too: a byte of 0x80 or more is its business.
    if (b[156]! >= 0x80) return undefined;
    const linkpath = text(b, 157, 100);
    const header: DecodedHeader = { cksumValid: false, path, mode, uid, gid, linkpath, devmaj: 0, devmin: 0 };
    if (seconds !== undefined) header.mtime = new Date(seconds * 1000);
    if (isUstar00(b)) {
      header.uname = text(b, 265, 32);
      header.gname = text(b, 297, 32);
      header.devmaj = number(b, 329, 8) ?? 0;
      header.devmin = number(b, 337, 8) ?? 0;
      if (b[475] !== 0) path = `${text(b, 345, 155)}/${path}`;
      else {
        const prefix = text(b, 345, 130);
        if (prefix) path = `${prefix}/${path}`;
        // npm's codec reads atime and ctime here; readTar takes neither from the block,
        // but a base-256 or non-ASCII field there is still npm's to judge.
        number(b, 476, 12);
        number(b, 488, 12);
      }
      header.path = path;
    }
    let sum = 8 * 0x20;
    for (let i = 0; i < 148; i++) sum += b[i]!;
    for (let i = 156; i < 512; i++) sum += b[i]!;
    header.cksumValid = sum === cksum;
    return header;
  } catch (err) {
    if (err === notPlain) return undefined;
    throw err;
  }
}

/**
 * A text field as npm decodes it (`toString('utf8').replace(/\0.*\/, '')`), for fields
 * of ASCII bytes with no line break after their first NUL; else `notPlain` is thrown.
 */
function text(b: Buffer, start: number, length: number): string {
  let nul = -1;
  for (let i = start; i < start + length; i++) {
    const c = b[i]!;
    if (c >= 0x80 || ((c === 0x0a || c === 0x0d) && nul >= 0)) throw notPlain;
    if (c === 0 && nul < 0) nul = i;
  }
  return b.toString('latin1', start, nul < 0 ? start + length : nul);
}

/**
 * A numeric field as npm decodes it (octal text up to the first NUL, trimmed, parsed by
 * `parseInt(…, 8)`, NaN as undefined); a base-256 field, or one `text` refuses, throws
 * `notPlain`. A line break anywhere in it also does: npm's RegExp there ends at one.
 */
function number(b: Buffer, start: number, length: number): number | undefined {
  if (b[start]! & 0x80) throw notPlain;
  for (let i = start; i < start + length; i++) if (b[i] === 0x0a || b[i] === 0x0d) throw notPlain;
  const n = Number.parseInt(text(b, start, length).trim(), 8);
  return Number.isNaN(n) ? undefined : n;
}

/** Whether the magic and version fields say `ustar\0` `00` (POSIX), the only form npm reads names and the prefix of. */
function isUstar00(b: Buffer): boolean {
  return (
    b[257] === 0x75 &&
    b[258] === 0x73 &&
    b[259] === 0x74 &&
    b[260] === 0x61 &&
    b[261] === 0x72 &&
    b[262] === 0 &&
    b[263] === 0x30 &&
    b[264] === 0x30
  );
}
