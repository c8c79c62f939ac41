/** A word as a shell takes it back: quoted when it holds anything a shell would split or read. */
export function shellWord(word: string): string {
  return /^[\w.@%+=:,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
