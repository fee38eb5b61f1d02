/**
 * A mount to perform, described rather than done: drivers return these and the
 * engine (or the OCI runtime) performs them. This keeps drivers free of mount
 * side effects, testable, and able to live out of process (containerd's lesson).
 *
 * The fields mirror mount(8): `type` ("overlay", "bind", "btrfs", "fuse.berth"...),
 * `source` (a device, a directory, or the filesystem name), and `options`
 * (comma-free list such as ["ro", "rbind"] or ["lowerdir=/a:/b", "upperdir=/u", "workdir=/w"]).
 */
export interface MountSpec {
  type: string;
  source: string;
  options: string[];
  /**
   * A mount that is not one mount(2) call (a FUSE filesystem, served by a process for
   * as long as it is mounted) names the program that performs and serves it, like
   * mount(8)'s `/sbin/mount.<type>` helpers: the argv prefix of that program (an
   * absolute path first, then any fixed arguments). Absent for a plain mount(2).
   *
   * **How it is run** (`@berth/native`'s mountAllAsync; never by the driver, never on
   * berthd's event loop): `<helper…> <source> <target> -o <options joined by ','>`
   * (no `-o` when options is empty), as a process of its own: its own session (so a
   * signal to its process group reaches everything it started), stdin /dev/null,
   * stdout and stderr appended to a log file the caller names, not a child the caller
   * waits on (it outlives berthd). The engine records its pid and start time before it
   * waits and supervises it like a container's shim.
   *
   * **What the program does:**
   * - mounts the filesystem on `<target>`, then writes the one line `ready\n` to its
   *   file descriptor 3 and keeps serving; the caller waits for that line, the process's
   *   exit or a timeout (then: an error naming the helper, its exit status and the last
   *   lines of its log, and nothing left mounted or running);
   * - keeps any other descriptor it inherits open until it exits (the engine learns of
   *   its death from one of them);
   * - on SIGTERM, or when the mount is unmounted by someone else, unmounts if still
   *   mounted and exits 0;
   * - when it exits on its own, never leaves the mount behind dead ("Transport endpoint
   *   is not connected"): it unmounts on the way out (autoUnmount, `fusermount -uz`).
   *
   * Unmounting such a mount (unmountAll: umount2, MNT_DETACH when busy) makes the
   * helper exit; the engine also sends its process group SIGTERM, and SIGKILL if it
   * is still there after a grace period.
   */
  helper?: readonly string[];
}
