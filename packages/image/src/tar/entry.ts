/** The kinds of tar entries berth reads and writes. */
export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo';

/** What a tar entry says about a file, with pax and GNU extensions already applied. */
export interface TarEntryHeader {
  /** The name as the archive writes it (may start with `./` or `/`, may end with `/`). */
  path: string;
  type: TarEntryType;
  /** Permission bits, including setuid, setgid and sticky (`& 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  uname?: string;
  gname?: string;
  /** Bytes of content; 0 for everything but files. */
  size: number;
  mtime: Date;
  atime?: Date;
  /** Target of a symlink, or the archive path a hardlink points to. */
  linkpath?: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes (pax `SCHILY.xattr.*`), values as raw bytes. */
  xattrs: Map<string, Buffer>;
}

/** An entry read from a tar stream. Its body must be read before the next entry, or it is skipped. */
export interface TarEntry extends TarEntryHeader {
  /** The file's content (empty for anything but files). */
  body: AsyncIterable<Buffer>;
}
