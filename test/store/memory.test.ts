/** The Store conformance suite against the in-memory backend. */
import t from 'tap'
import { createMemoryStore } from '../../src/store/index.js'
import type { Store } from '../../src/store/types.js'
import { runStoreConformance } from './conformance/index.js'

const stores: Store[] = []
t.teardown(async () => {
  await Promise.all(stores.map((store) => store.close()))
})

runStoreConformance(t, async (options) => {
  const store = createMemoryStore(options)
  stores.push(store)
  return store
})
