/** planLease and fairShare (src/store/deliveries.ts): what a lease call gives up or tries to take, for both backends. */
import t from 'tap'
import { fairShare, planLease } from '../../src/store/deliveries.js'

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i)

t.test('fair shares of the 64 shards', async (t) => {
  t.strictSame([1, 2, 3, 64, 65].map(fairShare), [64, 32, 22, 1, 1])
  t.equal(fairShare(0), 64, 'the asking consumer counts, so never fewer than one live')
})

t.test('past its share a consumer gives up its last shards that are not busy, and takes none', async (t) => {
  const held = range(0, 64)
  t.strictSame(planLease(held, [], 32), { release: range(32, 64), take: [] }, 'the last 32')
  t.strictSame(planLease(held, [], 32, [40, 63]), { release: [...range(30, 40), ...range(41, 63)], take: [] }, 'busy ones kept, the 32 others given up')
  t.strictSame(planLease(range(0, 34), [], 32, range(0, 33)), { release: [33], take: [] }, 'fewer than the excess when the rest are busy: the others go at a later call')
  t.strictSame(planLease(range(0, 34), [], 32, range(0, 34)), { release: [], take: [] }, 'all busy: nothing given up yet')
})

t.test('under its share a consumer tries free shards, as many as its room, in random order', async (t) => {
  let seed = 0
  const random = (): number => ((seed = (seed * 9301 + 49297) % 233280) / 233280)
  const plan = planLease(range(0, 20), range(20, 64), 32, [], random)
  t.equal(plan.take.length, 12, 'room for 12')
  t.ok(plan.take.every((shard) => shard >= 20 && shard < 64), 'only free ones')
  t.equal(new Set(plan.take).size, 12, 'each once')
  t.notSame(plan.take, range(20, 32), 'not simply the first free ones')
  t.strictSame(planLease(range(0, 32), range(32, 64), 32), { release: [], take: [] }, 'at its share: nothing moves')
})
