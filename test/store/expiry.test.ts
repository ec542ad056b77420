/**
 * The sliding-expiry rule has two forms under one name: src/store/expiry.ts
 * (the memory backend's) and src/store/expiry.lua (the Redis scripts'). Both,
 * the Lua one as the script loader hands it to a script and run by a real
 * redis-server, give the same answers.
 */
import t from 'tap'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { refreshDue, slideExpiry } from '../../src/store/expiry.js'
import { sharedDefinitions, withLib } from '../../src/store/redis/scripts.js'
import { startRedisServer } from '../helpers/redis-server.js'

const server = await startRedisServer()
t.teardown(() => server.stop())
const client = new Redis(server.url)
t.teardown(() => {
  client.disconnect()
})

// ARGV: now, idleTtlMs, absoluteExpiresAt, lastSeenAt, touchIntervalMs. Reply: {slideExpiry, refreshDue (1/0)}.
const EXPIRY = withLib(sharedDefinitions(), `
local now, idle, absolute, lastSeenAt, interval = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
return {slideExpiry(now, idle, absolute), refreshDue(now, lastSeenAt, interval) and 1 or 0}
`)

t.test('the loader gives a script only the expiry definitions it uses', async (t) => {
  t.match(EXPIRY, /local function slideExpiry/)
  t.match(EXPIRY, /local function refreshDue/)
  t.notMatch(EXPIRY, /local function slide\(/, 'nothing of lib.lua')
})

const DAY = 86_400_000
/** A clock in milliseconds since the epoch, and the other times as offsets from it on both sides of every boundary. */
const expiryCase = fc.record({
  now: fc.integer({ min: 0, max: 2 ** 45 }),
  idle: fc.integer({ min: 0, max: 400 * DAY }),
  absoluteOffset: fc.integer({ min: -400 * DAY, max: 400 * DAY }),
  sinceLastSeen: fc.integer({ min: -DAY, max: 2 * DAY }),
  interval: fc.oneof(fc.integer({ min: 0, max: 2 * DAY }), fc.constant(0))
})

t.test('slideExpiry and refreshDue answer alike in TypeScript and in Lua', async (t) => {
  await fc.assert(
    fc.asyncProperty(expiryCase, async ({ now, idle, absoluteOffset, sinceLastSeen, interval }) => {
      const absolute = now + absoluteOffset
      const lastSeenAt = now - sinceLastSeen
      const [slid, due] = (await client.eval(EXPIRY, 0, now, idle, absolute, lastSeenAt, interval)) as [number, number]
      const expected = [slideExpiry(now, idle, absolute), refreshDue(now, lastSeenAt, interval) ? 1 : 0]
      if (slid !== expected[0] || due !== expected[1]) throw new Error(`Lua says ${slid}, ${due}; TypeScript ${expected.join(', ')}`)
    }),
    // The first example sits on both boundaries: the cap equals now + idle, and the last refresh is exactly one interval old.
    { numRuns: 1000, examples: [[{ now: 1_000, idle: 10, absoluteOffset: 10, sinceLastSeen: 30, interval: 30 }]] }
  )
  t.pass('1000 random cases and the boundaries')
})
