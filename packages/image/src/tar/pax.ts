import { InvalidArgument } from '@berth/core';

/**
 * Pax extended-header records (`<len> <key>=<value>\n`), kept as raw bytes because
 * xattr values (`SCHILY.xattr.security.capability`) are binary. npm tar's own pax parser
 * decodes values as UTF-8 and drops xattrs, which is why berth parses pax itself.
 */
export type PaxRecords = Map<string, Buffer>;

export function parsePax(data: Buffer, where: string): PaxRecords {
  const records: PaxRecords = new Map();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // some writers pad the body with NULs
    const space = data.indexOf(0x20, pos);
    const length = space > pos ? Number(data.subarray(pos, space).toString('latin1')) : NaN;
    if (!Number.isInteger(length) || length <= space - pos || pos + length > data.length || data[pos + length - 1] !== 0x0a) {
      throw new InvalidArgument(`invalid pax header ${where}: malformed record at byte ${pos}`);
    }
    const record = data.subarray(space + 1, pos + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new InvalidArgument(`invalid pax header ${where}: record without key at byte ${pos}`);
    records.set(record.subarray(0, eq).toString('utf8'), Buffer.from(record.subarray(eq + 1)));
    pos += length;
  }
  return records;
}

/** Encode records (`SCHILY.xattr.*` values may be binary). */
export function encodePax(records: Iterable<[string, string | Uint8Array]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
    // The length field counts itself, so find the width at which it is stable.
    let length = body.length + 1;
    while (String(length).length + body.length !== length) length = String(length).length + body.length;
    parts.push(Buffer.from(String(length)), body);
  }
  return Buffer.concat(parts);
}
