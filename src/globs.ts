/**
 * Compiles PUBLIC_KEYS-style globs into one matcher. `*` matches any run of
 * characters (dots included); every other character matches itself.
 */
export function compileGlobs(globs: readonly string[]): (key: string) => boolean {
  if (globs.length === 0) return () => false
  const alternatives = globs.map((g) => g.split('*').map(escapeRegExp).join('.*'))
  const pattern = new RegExp(`^(?:${alternatives.join('|')})$`)
  return (key) => pattern.test(key)
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
