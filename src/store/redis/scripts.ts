/**
 * Assembles the Lua scripts (src/store/redis/scripts): each gets the definitions of
 * lib.lua it uses, directly or through others, not the whole file. Redis runs
 * a script's whole text on every call, so every helper a script carries costs
 * a closure, and its garbage, on each call.
 */

/** One top-level definition of lib.lua: the names it defines, and its text with the comment above it. */
export interface LibDefinition {
  readonly names: readonly string[]
  readonly text: string
}

const DEFINITION = /^local\s+(?:function\s+(\w+)|([\w\s,]+?)\s*=)/

/** lib.lua cut at its top-level `local` lines; comment and blank lines go with the definition below them. */
export function libDefinitions(lib: string): LibDefinition[] {
  const definitions: { names: string[]; lines: string[] }[] = []
  let pending: string[] = []
  for (const line of lib.split('\n')) {
    const match = DEFINITION.exec(line)
    const current = definitions[definitions.length - 1]
    if (match !== null) {
      const names = (match[1] ?? match[2] ?? '').split(',').map((name) => name.trim())
      definitions.push({ names, lines: [...pending, line] })
      pending = []
    } else if (/^(--|\s*$)/.test(line)) {
      pending.push(line)
    } else if (current === undefined) {
      throw new Error(`lib.lua: code before the first definition: ${line}`)
    } else {
      // Inside a definition: blank lines and comments held back belong to it.
      current.lines.push(...pending, line)
      pending = []
    }
  }
  return definitions.map(({ names, lines }) => ({ names, text: lines.join('\n') }))
}

/** The identifiers a Lua text mentions outside whole-line comments (strings included: more is harmless). */
function identifiers(text: string): Set<string> {
  const code = text
    .split('\n')
    .filter((line) => !/^\s*--/.test(line))
    .join('\n')
  return new Set(code.match(/[A-Za-z_]\w*/g))
}

/** The script preceded by the definitions it uses, directly or through others, in lib order. */
export function withLib(definitions: readonly LibDefinition[], script: string): string {
  const used = new Set<LibDefinition>()
  const visit = (text: string): void => {
    const mentioned = identifiers(text)
    for (const definition of definitions) {
      if (!used.has(definition) && definition.names.some((name) => mentioned.has(name))) {
        used.add(definition)
        visit(definition.text)
      }
    }
  }
  visit(script)
  return [...definitions.filter((definition) => used.has(definition)).map((definition) => definition.text), script].join('\n')
}
