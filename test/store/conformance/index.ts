/**
 * The Store conformance suite: the executable form of src/store/types.ts.
 *
 * A backend's test file calls runStoreConformance once, with its tap test and
 * a factory that builds an isolated, empty store from the options it is given
 * (memory: a new instance; Redis: a unique key prefix) and closes every store
 * it built when the file ends:
 *
 *   import t from 'tap'
 *   import { runStoreConformance } from './conformance/index.js'
 *
 *   const stores: Store[] = []
 *   t.teardown(() => Promise.all(stores.map((store) => store.close())))
 *   runStoreConformance(t, async (options) => {
 *     const store = createMyStore(options)
 *     stores.push(store)
 *     return store
 *   })
 *
 * Each concern is one subtest of that name, its cases in its own file here;
 * fixture.ts holds what they share. Every case builds its own store with a
 * fake clock it controls, so expiry, touch intervals and the rotation grace
 * period are tested without waiting. The fake clock stays at or ahead of real
 * time and TTLs are minutes long, so a Redis store that also sets real key
 * TTLs never loses a key mid-case.
 */
import type { Test } from 'tap'
import { collectionIndexTests } from './collections.js'
import { concurrencyTests } from './concurrency.js'
import { dataOperationTests, isolationTests, prototypeKeyTests } from './data.js'
import { deliveryTests } from './deliveries.js'
import { eventTests } from './events.js'
import { expiryTests } from './expiry.js'
import { setupFor, type Cases, type MakeStore } from './fixture.js'
import { secondaryIndexTests } from './indexes.js'
import { lifecycleTests } from './lifecycle.js'
import { limitTests } from './limits.js'
import { rotationTests } from './rotation.js'
import { valueTests } from './values.js'
import { maxSessionsPerUserTests, revokeUserSessionsTests, userIndexTests } from './users.js'
import { batchTests, ifMatchTests, incrTests } from './writes.js'

export type { MakeStore } from './fixture.js'

/** The concerns in the order they run, each under its subtest's name. */
const CONCERNS: readonly (readonly [string, Cases])[] = [
  ['lifecycle', lifecycleTests],
  ['data operations', dataOperationTests],
  ['ifMatch', ifMatchTests],
  ['incr', incrTests],
  ['batch', batchTests],
  ['limits', limitTests],
  ['values', valueTests],
  ['prototype-named keys', prototypeKeyTests],
  ['expiry', expiryTests],
  ['concurrency', concurrencyTests],
  ['rotation', rotationTests],
  ['user index', userIndexTests],
  ['revokeUserSessions', revokeUserSessionsTests],
  ['maxSessionsPerUser', maxSessionsPerUserTests],
  ['secondary indexes', secondaryIndexTests],
  ['collection indexes', collectionIndexTests],
  ['events', eventTests],
  ['webhook deliveries', deliveryTests],
  ['no shared mutable state', isolationTests]
]

export function runStoreConformance(t: Test, makeStore: MakeStore): void {
  const setup = setupFor(makeStore)
  for (const [name, cases] of CONCERNS) {
    t.test(name, async (t) => cases(t, setup))
  }
}
