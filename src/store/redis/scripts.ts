/**
 * The Lua scripts (src/store/redis/scripts, one per atomic operation) and how
 * they reach Redis: each is defined on the client as a command with the
 * shared definitions it uses prepended, from src/store/expiry.lua (the
 * sliding-expiry rule) and lib.lua, directly or through others. A script gets
 * only those, not the whole files, because Redis runs a script's whole text
 * on every call.
 */
import { readFileSync } from 'node:fs'
import type { ChainableCommander } from 'ioredis'
import type { RedisClient } from './client.js'

/**
 * Every script by the name the backend calls it: its file, how many of its
 * arguments are keys, and whether it writes, so that its first other argument
 * is its deadline (deadlines.ts).
 */
const SCRIPTS = {
  create: { file: 'create.lua', keys: 1, deadline: true },
  read: { file: 'read.lua', keys: 1, deadline: false },
  readKey: { file: 'read-key.lua', keys: 1, deadline: false },
  write: { file: 'write.lua', keys: 1, deadline: true },
  destroy: { file: 'destroy.lua', keys: 1, deadline: true },
  rotate: { file: 'rotate.lua', keys: 2, deadline: true },
  listUser: { file: 'list-user.lua', keys: 1, deadline: false },
  revokeUser: { file: 'revoke-user.lua', keys: 1, deadline: true },
  listIndex: { file: 'list-index.lua', keys: 1, deadline: false },
  revokeIndex: { file: 'revoke-index.lua', keys: 1, deadline: true },
  count: { file: 'count.lua', keys: 1, deadline: false },
  sweep: { file: 'sweep.lua', keys: 1, deadline: true },
  readEvents: { file: 'read-events.lua', keys: 1, deadline: false },
  prepareDeliveries: { file: 'deliveries-prepare.lua', keys: 1, deadline: true },
  registerConsumer: { file: 'deliveries-consumers.lua', keys: 1, deadline: true },
  leaseShards: { file: 'deliveries-lease.lua', keys: 1, deadline: true },
  takeShards: { file: 'deliveries-take.lua', keys: 1, deadline: true },
  releaseShards: { file: 'deliveries-release.lua', keys: 1, deadline: true },
  handOut: { file: 'deliveries-hand-out.lua', keys: 1, deadline: true },
  unacknowledged: { file: 'deliveries-unacknowledged.lua', keys: 1, deadline: true },
  acknowledge: { file: 'deliveries-acknowledge.lua', keys: 1, deadline: true },
  oldestUndelivered: { file: 'deliveries-oldest.lua', keys: 1, deadline: false }
} as const

export type ScriptName = keyof typeof SCRIPTS
export const hasDeadline = (name: ScriptName): boolean => SCRIPTS[name].deadline
export type Arg = string | number
/** Runs a script with its keys (KEYS) and its other arguments (ARGV); resolves to its reply. */
export type Run = (name: ScriptName, keys: readonly string[], args: readonly Arg[]) => Promise<unknown>
/** The scripts as methods of the client: keys first, then the other arguments. */
export type ScriptMethods = Readonly<Record<ScriptName, (...args: Arg[]) => Promise<unknown>>>

/** Optional script arguments: '' for none, else '=' and the value, so that '' stays a value (lib.lua `opt` reads them). */
export const opt = (value: string | number | null | undefined): string => (value === null || value === undefined ? '' : `=${value}`)

/** One top-level definition of a Lua library (lib.lua, expiry.lua): the names it defines, and its text with the comment above it. */
export interface LibDefinition {
  readonly names: readonly string[]
  readonly text: string
}

const DEFINITION = /^local\s+(?:function\s+(\w+)|([\w\s,]+?)\s*=)/

/** A Lua library cut at its top-level `local` lines; comment and blank lines go with the definition below them. */
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
      throw new Error(`a Lua library has code before the first definition: ${line}`)
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

/** The script preceded by the definitions it uses, directly or through others, in the definitions' order. */
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

/** A Lua file, relative to this module (the build copies them to the same places in dist/). */
function readLua(path: string): string {
  return readFileSync(new URL(path, import.meta.url), 'utf8')
}

/** What scripts may use, in the order a script gets it: expiry.lua first, since lib.lua's helpers call it. */
export function sharedDefinitions(): LibDefinition[] {
  return [...libDefinitions(readLua('../expiry.lua')), ...libDefinitions(readLua('./scripts/lib.lua'))]
}

const commandName = (name: ScriptName): string => `sessiond_${name}`

/** A defined script as a method of the client or of a pipeline. */
export function scriptMethod<R>(target: RedisClient | ChainableCommander, name: ScriptName): (...args: Arg[]) => R {
  const method = (target as unknown as Record<string, ((...args: Arg[]) => R) | undefined>)[commandName(name)]
  if (method === undefined) throw new Error(`script ${name} is not defined`)
  return method.bind(target)
}

/** Defines every script on the client and returns them as its methods, bound here so that a request calls one directly. */
export function defineScripts(client: RedisClient): ScriptMethods {
  const definitions = sharedDefinitions()
  for (const [name, { file, keys }] of Object.entries(SCRIPTS)) {
    client.defineCommand(commandName(name as ScriptName), { numberOfKeys: keys, lua: withLib(definitions, readLua(`./scripts/${file}`)) })
  }
  return Object.fromEntries(
    Object.keys(SCRIPTS).map((name) => [name, scriptMethod<Promise<unknown>>(client, name as ScriptName)])
  ) as ScriptMethods
}
