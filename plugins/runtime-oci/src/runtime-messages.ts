/**
 * A runtime's error message in the words runc uses, which Docker's clients read: the
 * docker CLI exits 127 when the message contains `executable file not found` or
 * `no such file or directory` (lower case, as Go writes errno texts), else 125/126.
 * crun writes `executable file \`X\` not found in $PATH: No such file or directory` and
 * C's capitalised strerror texts. runc's own messages pass unchanged.
 */
export function runcWording(message: string): string {
  return message
    .replace(
      /executable file `([^`]*)` not found in \$PATH(: No such file or directory)?/g,
      'exec: "$1": executable file not found in $PATH',
    )
    .replace(/: (No such file or directory|Permission denied|Not a directory)\b/g, (_m, text: string) => `: ${text.toLowerCase()}`);
}
