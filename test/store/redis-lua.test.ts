/**
 * The Lua helpers (src/store/redis/scripts/lib.lua) and how scripts get them. In a
 * real Redis, where they run: the `all` member that entryOf splices from @m
 * must be byte-identical to cjson's encoding of the whole entry, which
 * members written before (and pruning's decode) rely on.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { libDefinitions, withLib } from '../../src/store/redis/scripts.js'
import { startRedisServer } from '../helpers/redis-server.js'

const server = await startRedisServer()
t.teardown(() => server.stop())
const client = new Redis(server.url)
t.teardown(() => {
  client.disconnect()
})

const lib = libDefinitions(readFileSync(new URL('../../src/store/redis/scripts/lib.lua', import.meta.url), 'utf8'))

// ARGV: handle, userId? ('' or '='..userId), k1, v1, ... Reply: {spliced, cjson's}.
const ENTRY = withLib(lib, `
local handle, userId = ARGV[1], opt(ARGV[2])
local flat = {}
for i = 3, #ARGV do flat[#flat + 1] = ARGV[i] end
local whole = {handle, userId}
for i = 1, #flat do whole[#whole + 1] = flat[i] end
return {entryOf(handle, userId, #flat > 0 and cjson.encode(flat)), cjson.encode(whole)}
`)

/** Texts cjson escapes ("/", quotes, controls, DEL) or not (non-ASCII), and raw bytes that are not UTF-8. */
const text = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom('/', '"', '\\', '\u007f', '\n', '\u0000', '\u001f', 'é', '𝄞', 'a', '[', ',', ']') }),
  fc.uint8Array({ maxLength: 12 }).map((bytes) => Buffer.from(bytes))
)
const flat = fc.array(fc.tuple(text, text), { maxLength: 4 }).map((pairs) => pairs.flat())

t.test('entryOf splices exactly what cjson encodes', async (t) => {
  await fc.assert(
    fc.asyncProperty(text, fc.option(text, { nil: null }), flat, async (handle, userId, pairs) => {
      const userArg = userId === null ? '' : Buffer.concat([Buffer.from('='), Buffer.from(userId)])
      const reply = (await client.callBuffer('EVAL', ENTRY, 0, handle, userArg, ...pairs)) as [Buffer, Buffer]
      const [spliced, encoded] = reply
      if (!spliced.equals(encoded)) throw new Error(`${spliced.toString()} is not ${encoded.toString()}`)
    }),
    { numRuns: 500 }
  )
  t.pass('500 random entries, with and without a user and pairs')
})

t.test('a script gets the lib definitions it uses, through others too, in lib order', async (t) => {
  const defs = libDefinitions(
    [
      '-- About the lib.',
      '',
      '-- Two at once.',
      'local A, B = 1, 2',
      '',
      'local function f()',
      '  return A',
      'end',
      '',
      '-- Unused: g.',
      'local function g()',
      '',
      '  -- a comment inside',
      '  return 3',
      'end',
      '',
      'local function h() return f() end'
    ].join('\n')
  )
  t.strictSame(
    defs.map((d) => d.names),
    [['A', 'B'], ['f'], ['g'], ['h']],
    'one definition per top-level local'
  )
  t.equal(defs[2]?.text, ['', '-- Unused: g.', 'local function g()', '', '  -- a comment inside', '  return 3', 'end'].join('\n'), 'a definition keeps the lines above it and its inner blank lines and comments')
  const script = withLib(defs, '-- g is not called\nreturn h()')
  t.equal(script, [defs[0]?.text, defs[1]?.text, defs[3]?.text, '-- g is not called\nreturn h()'].join('\n'), 'h, f through h, A through f; not g, named only in a comment')
  t.equal(await client.eval(script, 0), 1, 'and it runs in Redis')
  t.throws(() => libDefinitions('x = 1\nlocal y = 2'), /code before the first definition/, 'code outside a definition is refused')
})
