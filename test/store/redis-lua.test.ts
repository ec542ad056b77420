/**
 * The Lua helpers (src/store/scripts/lib.lua) checked inside a real Redis,
 * where they run: the `all` member that entryOf splices from @m must be
 * byte-identical to cjson's encoding of the whole entry, or ZREM would miss it.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { startRedisServer } from '../helpers/redis-server.js'

const server = await startRedisServer()
t.teardown(() => server.stop())
const client = new Redis(server.url)
t.teardown(() => {
  client.disconnect()
})

const lib = readFileSync(new URL('../../src/store/scripts/lib.lua', import.meta.url), 'utf8')

// ARGV: handle, userId? ('' or '='..userId), k1, v1, ... Reply: {spliced, cjson's}.
const ENTRY = `${lib}
local handle, userId = ARGV[1], opt(ARGV[2])
local flat = {}
for i = 3, #ARGV do flat[#flat + 1] = ARGV[i] end
local whole = {handle, userId}
for i = 1, #flat do whole[#whole + 1] = flat[i] end
return {entryOf(handle, userId, #flat > 0 and cjson.encode(flat)), cjson.encode(whole)}
`

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
